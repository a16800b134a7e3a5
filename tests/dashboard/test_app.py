"""The dashboard's pages through Streamlit's AppTest, on a database with a published run and job history."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from forecast.ingest import ColumnMapping, ingest_sales
from forecast.pipeline.run import run_forecast
from forecast.pipeline.shock import ShockRules
from forecast.settings import get_settings
from forecast.storage import forecast_repo, override_repo, user_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import BacktestRun, Sales

PASSWORD = "correct horse battery"
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def published(loaded: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The small scenario with a published 14-day run, the dashboard pointed at it."""
    run_id = run_forecast(loaded, horizon=14, models=["SeasonalNaive"]).run_id
    with session_scope(loaded) as session:
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="planner")
        user_repo.set_user(session=session, username="vic", password=PASSWORD, role="viewer")
    monkeypatch.setenv("DEMAND_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield run_id
    get_settings.cache_clear()


def _sign_in(app: AppTest, user: str, password: str) -> AppTest:
    app.text_input[0].input(user)
    app.text_input[1].input(password)
    app.button[0].click().run()
    return app


def _shown(markdown: str) -> str:
    """What a message Markdown-escaped by dashboard.text.md reads as (backslashes and word joiners gone)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def _app(user: str = "pia") -> AppTest:
    """The app, signed in as `user`."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    _sign_in(app, user, PASSWORD)
    assert not app.exception, app.exception
    return app


def test_nothing_renders_before_sign_in_and_a_wrong_password_is_refused(published: int) -> None:
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert app.title[0].value == "Sign in" and not app.metric and not app.dataframe
    _sign_in(app, "pia", "wrong password")
    assert app.error[0].value == "Unknown user or wrong password." and not app.metric
    _sign_in(app, "nobody", PASSWORD)
    assert app.error[0].value == "Unknown user or wrong password." and not app.metric
    _sign_in(app, "vic", PASSWORD)
    assert app.title[0].value == "Overview" and "vic** (viewer)" in app.sidebar.markdown[0].value


def test_repeated_wrong_passwords_lock_the_user_name_out_even_with_the_right_one(
        published: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_DASHBOARD_LOGIN_MAX_FAILURES", "3")
    get_settings.cache_clear()
    app = AppTest.from_file(APP, default_timeout=60).run()
    for _ in range(3):
        _sign_in(app, "pia", "guess")
        assert app.error[0].value == "Unknown user or wrong password."
    _sign_in(app, "pia", PASSWORD)
    assert app.error[0].value == "Too many failed sign-ins for this user; try again in 15 minute(s)."
    assert app.title[0].value == "Sign in" and not app.metric
    _sign_in(app, "vic", PASSWORD)  # another name is not locked out
    assert app.title[0].value == "Overview"


def test_overview_shows_the_published_run_and_totals(published: int, loaded: Engine) -> None:
    app = _app()
    assert app.title[0].value == "Overview"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Published run"] == f"#{published}" and metrics["Series"] == "18"
    daily = app.get("plotly_chart")[0].proto.spec
    assert '"same weekday last year"' in daily and '"forecast"' in daily
    totals = app.dataframe[-1].value
    with session_scope(loaded) as session:
        forecast = forecast_repo.read_published(session=session)["yhat"].sum()
    assert totals["forecast"].sum() == pytest.approx(forecast)
    assert app.info[0].value.startswith("No scheduled job has run yet")
    assert app.success[0].value.startswith("No region is flagged")


def test_overview_shows_a_flagged_region_why_and_what_the_run_changed(published: int, loaded: Engine) -> None:
    rising = dt.date(2024, 11, 7)  # the small scenario's R02 cases are rising fast (tests/pipeline/test_shock.py)
    run = run_forecast(loaded, horizon=14, models=["SeasonalNaive"], cutoff=rising, shock=ShockRules()).run_id
    app = _app()
    assert app.error[0].value.startswith("Regional shock flagged in 1 region(s): R02.")
    shocks = next(d.value for d in app.dataframe if "why" in d.value.columns)
    row = shocks.set_index("region").loc["R02"]
    assert row["flag"] == "raised" and str(row["since"])[:10] == rising.isoformat() and row["case_rise"] > 10
    assert row["why"].startswith("cases ") and "(threshold +10)" in row["why"]
    # R02's 9 series less FAS-007, inactive at the cutoff (no sale for 59 days: forecast zero, not modelled)
    assert row["run_changed"] == f"run {run}: bands x1.5; SeasonalNaive 8"


def test_explorer_draws_one_series_with_its_bands(published: int) -> None:
    app = _app()
    app.switch_page("views/explorer.py").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Explorer"
    chart = app.get("plotly_chart")[0]
    figure = chart.proto.spec
    assert '"95% band"' in figure and '"80% band"' in figure and '"forecast"' in figure
    table = app.dataframe[0].value
    assert len(table) == 14 and (table["lo95"] <= table["yhat"]).all() and (table["yhat"] <= table["hi95"]).all()
    assert app.selectbox[0].label == "SKU" and app.selectbox[1].options == ["R01", "R02"]
    second = app.selectbox[0].options[1]
    app.selectbox[0].select(second.split(" · ")[0]).run()
    app.selectbox[1].select("R02").run()
    assert (app.query_params["sku"], app.query_params["region"]) == (second.split(" · ")[0], "R02")
    assert app.get("plotly_chart")[0].proto.spec.count(f"{second.split(' · ')[0]} in R02") == 1


def test_explorer_says_why_the_forecast_changed_since_the_last_run(published: int, loaded: Engine) -> None:
    second = run_forecast(loaded, horizon=14, models=["AutoTheta"]).run_id
    app = _app()
    app.switch_page("views/explorer.py").run()
    assert not app.exception, app.exception
    assert app.expander[0].label == "Why is this forecast different from the last run's?"
    text = [m.value for m in app.markdown]
    assert any(f"in run {second}" in t and f"in run {published}" in t for t in text)
    assert "- **model**: model switched from SeasonalNaive to AutoTheta" in text
    daily = app.dataframe[-1].value
    assert len(daily) == 14 and list(daily.columns) == ["day", "before", "after"]


def test_runs_page_lists_runs_and_jobs(published: int, loaded: Engine) -> None:
    from scheduler.jobs import accuracy

    assert accuracy() == "succeeded"
    with session_scope(loaded) as session:  # a backtest that failed is listed with its error
        session.add(BacktestRun(config={"windows": 3, "horizon": 28, "models": ["AutoETS"]}, data_cutoff=dt.date.today(),
                                data_batch_id=1, code_version="test", status="failed", error="out of memory"))
    app = _app()
    app.switch_page("views/runs.py").run()
    assert not app.exception, app.exception
    runs, backtests, jobs = (app.dataframe[i].value for i in range(3))
    assert runs["run"].tolist() == [published] and runs["status"].tolist() == ["published"]
    assert backtests.iloc[0][["status", "models", "error"]].tolist() == ["failed", "AutoETS", "out of memory"]
    assert jobs["job"].tolist() == ["accuracy"] and jobs["status"].tolist() == ["succeeded"]


def test_overview_and_runs_show_a_partial_and_a_failed_sales_pull_until_a_good_one(
        published: int, loaded: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scheduler.jobs import sales_pull

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("DEMAND_SALES_DROP_DIR", str(inbox))
    get_settings.cache_clear()
    (inbox / "sales_2026-01-05.csv").write_text("sku,region,day,units\nX1,R01,2026-01-05,3\nX1,R01,2026-01-06,lots\n")
    assert sales_pull() == "partial"
    (inbox / "late.csv").write_text("sku,region,day,units\nX1,R01,2026-01-08,none\n")
    assert sales_pull() == "failed"
    app = _app()
    health = _shown(app.error[0].value)  # the jobs' messages are data, escaped
    assert health.startswith("2 job problem(s) open: sales_pull failed (late.csv: none of the 1 rows is valid (line 2: "
                             "units 'none' is not a number)")
    assert ("; sales_pull partial (sales_2026-01-05.csv: 1 row rejected (line 3: units 'lots' is not a number); "
            "see `demand ingest rejected ") in health
    last = app.dataframe[0].value
    assert last[["job", "status"]].values.tolist() == [["sales_pull", "failed"]]
    problems = app.dataframe[1].value
    assert problems["status"].tolist() == ["failed", "partial"] and problems["message"][1].startswith("sales_2026-01-05")

    app.switch_page("views/runs.py").run()
    app.toggle[0].set_value(True).run()
    assert not app.exception, app.exception
    assert app.dataframe[-1].value["status"].tolist() == ["failed", "partial"]

    (inbox / "sales_2026-01-07.csv").write_text("sku,region,day,units\nX1,R01,2026-01-07,2\n")
    assert sales_pull() == "succeeded"
    st.cache_data.clear()
    app = _app()
    assert not app.error and app.success[0].value.startswith("Every job's last run succeeded, and no earlier failure")


def test_explorer_shows_the_totals_of_a_category_and_region(published: int, loaded: Engine) -> None:
    app = _app()
    app.switch_page("views/explorer.py").run()
    app.segmented_control(key="explorer_level").set_value("Totals").run()
    assert not app.exception, app.exception
    assert [s.label for s in app.selectbox] == ["Category", "Region"]
    with session_scope(loaded) as session:
        forecast = forecast_repo.read_published(session=session)
    every = app.dataframe[0].value
    assert every["yhat"].sum() == pytest.approx(forecast["yhat"].sum()) and (every["series"] == 18).all()
    app.selectbox(key="explorer_group_region").select("R01").run()
    one = app.dataframe[0].value
    assert one["yhat"].sum() == pytest.approx(forecast.filter(pl.col("region") == "R01")["yhat"].sum())
    assert "All categories in R01" in app.get("plotly_chart")[0].proto.spec


def test_explorer_totals_of_a_reconciled_run_show_the_totals_own_bands(published: int, loaded: Engine) -> None:
    run = run_forecast(loaded, horizon=14, models=["SeasonalNaive"], reconcile="mint_ols")
    with session_scope(loaded) as session:
        totals = forecast_repo.read_published_totals(session=session)
        forecast = forecast_repo.read_published(session=session)
    app = _app()
    app.switch_page("views/explorer.py").run()
    app.segmented_control(key="explorer_level").set_value("Totals").run()
    app.selectbox(key="explorer_group_region").select("R01").run()
    assert not app.exception, app.exception
    shown = app.dataframe[0].value
    node = totals.filter(pl.col("node") == "total/R01")
    assert shown["hi95"].tolist() == pytest.approx(node["hi95"].to_list())
    # coherent: the published series of R01 add up to the total shown
    assert shown["yhat"].sum() == pytest.approx(forecast.filter(pl.col("region") == "R01")["yhat"].sum())
    assert any(f"Reconciled (mint_ols, run #{run.run_id})" in c.value for c in app.caption)


@pytest.mark.parametrize("page", ["overview", "explorer", "accuracy", "scenarios", "overrides", "runs"])
def test_every_table_has_an_escaped_download_and_streamlits_own_export_is_off(
        page: str, published: int, loaded: Engine) -> None:
    from forecast.backtest import BacktestConfig, run_backtest
    from streamlit import config

    run_backtest(loaded, BacktestConfig(windows=2, horizon=7, models=("SeasonalNaive",)))
    app = _app()
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception, app.exception
    assert config.get_option("client.disableDataExport") is True
    downloads = [b for b in app.get("download_button") if b.proto.label.startswith("Download")]
    assert len(downloads) >= len(app.dataframe) and (app.dataframe or page == "scenarios")  # none saved yet


def test_csv_downloads_escape_formula_cells() -> None:
    from dashboard.export import safe_csv

    frame = pl.DataFrame({"sku": ["=HYPERLINK(1)", "+1", "-2", "@x", "plain"], "units": [-1.0, 2.0, 3.0, 4.0, 5.0]})
    lines = safe_csv(frame).decode().splitlines()
    assert lines == ["sku,units", "'=HYPERLINK(1),-1.0", "'+1,2.0", "'-2,3.0", "'@x,4.0", "plain,5.0"]


def test_accuracy_page_shows_backtests_compared_and_tracked_accuracy(published: int, loaded: Engine) -> None:
    from forecast.backtest import BacktestConfig, run_backtest
    from forecast.pipeline.accuracy import track_accuracy

    config = BacktestConfig(windows=2, horizon=7, models=("SeasonalNaive", "AutoTheta"))
    first, second = run_backtest(loaded, config).run_id, run_backtest(loaded, config).run_id
    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    run_forecast(loaded, horizon=14, models=["SeasonalNaive"], cutoff=last - dt.timedelta(days=10))
    assert track_accuracy(loaded) > 0

    app = _app()
    app.switch_page("views/accuracy.py").run()
    assert not app.exception, app.exception
    summary = app.dataframe[0].value
    assert set(summary["model"]) == {"SeasonalNaive", "AutoTheta", "Selected", "Ensemble"}
    assert app.selectbox[0].value == second and app.get("plotly_chart")
    by_category, by_region = app.dataframe[1].value, app.dataframe[2].value
    assert set(by_region["region"]) == {"R01", "R02"} and by_category["wape"].between(0, 5).all()
    added = app.dataframe[3].value  # each model's value added over SeasonalNaive
    assert set(added["model"]) == {"AutoTheta", "Selected", "Ensemble"}
    assert (added["value_added"] == added["wape_seasonal_naive"] - added["wape_model"]).all()
    app.radio(key="model_value_added_by").set_value("region").run()
    assert set(app.dataframe[3].value["region"]) == {"R01", "R02"}
    compared = app.dataframe[4].value
    assert f"wrmsse #{first}" in compared.columns and len(compared) == 4
    tracked = app.dataframe[5].value
    assert tracked["lag"].tolist() == [1, 7] and (tracked["rows"] > 0).all()
    by_model = app.dataframe[6].value
    assert set(by_model["model"]) == {"SeasonalNaive"} and by_model["rows"].sum() == tracked["rows"].sum()
    app.radio(key="tracked_by").set_value("region").run()
    assert set(app.dataframe[6].value["region"]) == {"R01", "R02"}
    assert any("No tracked day has an override yet" in c.value for c in app.caption)

    app.switch_page("views/explorer.py").run()  # the series' own scores in the newest backtest
    mine = app.dataframe[0].value
    assert set(mine["model"]) == {"SeasonalNaive", "AutoTheta", "Selected", "Ensemble"}
    assert (mine["backtest"] == second).all() and mine["wape"].is_monotonic_increasing


def test_a_planner_runs_and_saves_a_livestream_scenario_and_a_viewer_may_only_open_it(published: int) -> None:
    app = _app("pia")
    app.switch_page("views/scenarios.py").run()
    assert not app.exception, app.exception
    assert app.info[0].value == "No saved scenario yet."
    app.multiselect[0].select("STA-001")  # form widgets: their values go in with the submit
    app.multiselect[1].select("R01")
    app.button[0].click().run()  # Run and save
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.success[0].value.startswith("Scenario 1 saved:")
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) >= {"Without", "With", "Extra units"}
    regions = app.dataframe[0].value
    assert regions["region_id"].tolist() == ["R01"]

    viewer = _app("vic")
    viewer.switch_page("views/scenarios.py").run()
    assert not viewer.exception, viewer.exception
    assert viewer.info[0].value.startswith("Viewers can open saved scenarios")
    assert viewer.button[0].disabled  # the form's submit button
    assert viewer.selectbox[-1].value == 1 and viewer.dataframe[0].value["region_id"].tolist() == ["R01"]


def test_a_planner_overrides_a_forecast_the_view_adjusts_it_and_a_viewer_cannot(published: int, loaded: Engine) -> None:
    app = _app("pia")
    app.switch_page("views/overrides.py").run()
    assert not app.exception, app.exception
    sku, region = app.query_params["sku"], app.query_params["region"]
    app.number_input[0].set_value(-20.0)
    app.text_input[0].input("local road works")
    app.button[0].click().run()  # Save override (every published day, -20%)
    assert not app.exception, app.exception
    with session_scope(loaded) as session:
        adjusted = override_repo.read_adjusted(session=session, sku=sku, region=region)
        others = override_repo.read_adjusted(session=session, sku=sku, region="R02" if region == "R01" else "R01")
    assert len(adjusted) == 14 and adjusted["override_reason"].to_list() == ["local road works"] * 14
    assert adjusted["yhat_adjusted"].to_list() == pytest.approx((adjusted["yhat"] * 0.8).to_list())
    assert others["override_id"].null_count() == 14 and (others["yhat_adjusted"] == others["yhat"]).all()
    table = app.dataframe[0].value
    assert table["yhat_adjusted"].tolist() == pytest.approx((table["yhat"] * 0.8).tolist())
    assert app.dataframe[1].value["created_by"].tolist() == ["pia"]

    app.text_input[0].input("")
    app.button[0].click().run()
    assert app.error[0].value.startswith("an override needs a reason")

    viewer = _app("vic")
    viewer.switch_page("views/overrides.py").run()
    assert viewer.info[0].value.startswith("Viewers see overrides")
    assert [b.label for b in viewer.button] == ["Sign out"]  # no save, no withdraw


def test_explorer_explains_an_xgboost_forecast_with_its_signal_contributions(published: int, loaded: Engine) -> None:
    xgb = run_forecast(loaded, horizon=14, models=["XGBoost"]).run_id
    app = _app()
    app.switch_page("views/explorer.py").run()
    assert not app.exception, app.exception
    assert app.caption[0].value.startswith(f"Model: XGBoost · run #{xgb}")
    contributions = app.dataframe[0].value
    assert len(contributions) > 0 and (contributions["factor"] > 0).all()
    assert contributions["largest"].is_monotonic_decreasing
    first_day = app.select_slider[0].value[0]
    app.select_slider[0].set_value((first_day, first_day)).run()  # one day: its own contributions
    assert (app.dataframe[0].value["largest_on"].dt.date == first_day).all()
    spec = app.get("plotly_chart")[0].proto.spec
    assert '"cases per 100k"' in spec  # the region's case counts on the second axis


def test_overview_names_the_late_and_inactive_series_of_the_published_run(published: int, loaded: Engine,
                                                                        tmp_path: Path) -> None:
    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
        series = session.execute(select(Sales.sku_id, Sales.region_id).distinct()).all()
    early = tmp_path / "one-store-early.csv"  # one series reports the next day: every other one is late
    early.write_text(f"sku,region,day,units\nSTA-001,R01,{last + dt.timedelta(days=1)},5\n", encoding="utf-8")
    with session_scope(loaded) as session:
        assert ingest_sales(early, session=session, mapping=ColumnMapping()).absent == "zero"
    run_forecast(loaded, horizon=14, models=["SeasonalNaive"])
    st.cache_data.clear()
    app = _app()
    warning = next(w.value for w in app.warning if w.value.startswith("Sales feed at the cutoff"))
    feed = next(d.value for d in app.dataframe if "what" in d.value.columns)
    late = feed[feed["what"] == "late (days late)"]
    assert f"{len(late)} series late (forecast from their own last reported day)" in warning
    assert len(late) == len(series) - 1 - (feed["what"].str.startswith("inactive")).sum()
    assert set(late["days"]) == {1} and ("STA-001", "R01") not in set(zip(late["SKU"], late["region"]))
    assert set(feed["open"]) >= {f"explorer?sku={s}&region={r}" for s, r in zip(late["SKU"], late["region"])}


def _overrides(engine: Engine) -> int:
    from forecast.storage.schema import ForecastOverride

    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(ForecastOverride))


def test_a_planner_made_a_viewer_can_no_longer_save_an_override(published: int, loaded: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The role is read again on every rerun and at the save itself, not only when the page rendered."""
    from dashboard.data import overrides as data

    app = _app("pia")
    app.switch_page("views/overrides.py").run()
    app.text_input[0].input("local road works")
    with session_scope(loaded) as session:  # between the render and the click (`demand users add pia --role viewer`)
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="viewer")
    app.button[0].click().run()  # Save override
    assert not app.exception, app.exception
    assert app.title[0].value == "Sign in" and not app.success and _overrides(loaded) == 0
    assert [w.value for w in app.warning] == ["Your account changed; sign in again."]

    with session_scope(loaded) as session:
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="planner")
    app = _app("pia")
    app.switch_page("views/overrides.py").run()
    app.text_input[0].input("local road works")
    shown = data.series_adjusted

    def demoted_while_the_page_runs(sku: str, region: str) -> object:  # after the rerun's check, before the save
        with session_scope(loaded) as session:
            user_repo.set_user(session=session, username="pia", password=PASSWORD, role="viewer")
        return shown(sku, region)

    monkeypatch.setattr(data, "series_adjusted", demoted_while_the_page_runs)
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert not app.success and _overrides(loaded) == 0
    assert app.title[0].value == "Sign in"


def test_a_disabled_or_removed_user_is_signed_out_on_the_next_rerun(published: int, cli) -> None:
    from forecast.cli import app as demand

    planner, viewer = _app("pia"), _app("vic")
    assert planner.title[0].value == viewer.title[0].value == "Overview"
    assert cli.invoke(demand, ["users", "disable", "pia"]).exit_code == 0
    assert cli.invoke(demand, ["users", "remove", "vic"]).exit_code == 0
    for app in (planner, viewer):
        app.run()
        assert not app.exception, app.exception
        assert app.title[0].value == "Sign in" and not app.metric and not app.dataframe
        assert [w.value for w in app.warning] == ["Your account changed; sign in again."]
    _sign_in(planner, "pia", PASSWORD)  # disabled: refused like a wrong password
    assert planner.title[0].value == "Sign in" and planner.error[0].value == "Unknown user or wrong password."
    assert cli.invoke(demand, ["users", "enable", "pia"]).exit_code == 0
    _sign_in(planner, "pia", PASSWORD)
    assert planner.title[0].value == "Overview"
