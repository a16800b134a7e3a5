"""Overview: the published run and its age, job health, region x category totals against last year."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import polars as pl
import streamlit as st

from dashboard.data import overview as data
from dashboard.charts import totals_figure
from dashboard.text import md
from dashboard.widgets import table
from forecast.settings import get_settings

EXPLORER = st.column_config.LinkColumn("open", display_text="explorer")


def _linked(frame: pl.DataFrame, sku: str = "sku", region: str = "region") -> pl.DataFrame:
    """`frame` with an `open` link to each row's series in the Explorer (names URL-encoded)."""
    def quoted(column: str) -> pl.Expr:
        return pl.col(column).map_elements(lambda v: quote(v, safe=""), return_dtype=pl.String)

    return frame.with_columns(pl.format("explorer?sku={}&region={}", quoted(sku), quoted(region)).alias("open"))


st.title("Overview")
run = data.latest_run()
if run is None:
    st.warning("No forecast is published yet: run `demand forecast run` (or let the scheduler's forecast job run).")
    st.stop()

published = run["published_at"] if run["published_at"].tzinfo else run["published_at"].replace(tzinfo=dt.timezone.utc)
age_hours = (dt.datetime.now(dt.timezone.utc) - published).total_seconds() / 3600
left, middle, right = st.columns(3)
left.metric("Published run", f"#{run['id']}", help=f"cutoff {run['cutoff']}, {run['horizon']} days")
middle.metric("Age", f"{age_hours:.1f} h", help=f"published {published:%Y-%m-%d %H:%M} UTC")
right.metric("Series", f"{run['series']:,}")

# config key, its days column, what a row of it is, and the warning's words for their count
FEED = (("late", "days_late", "late (days late)", "{n:,} series late (forecast from their own last reported day)"),
        ("inactive", "days_without_sale", "inactive (days without a sale)",
         "{n:,} inactive (no sale for a long time: forecast zero)"),
        ("with_unknown_days", "unknown_days", "days not reported", "{n:,} with days not reported (holes in the feed)"))


def _feed_table(shapes: dict) -> pl.DataFrame:
    """SKU, region, what, days: the published run's late, inactive and holed series."""
    rows = [{"SKU": r["sku"], "region": r["region"], "what": what, "days": r[days]}
            for key, days, what, _ in FEED for r in shapes.get(key, [])]
    return pl.DataFrame(rows, schema={"SKU": pl.String, "region": pl.String, "what": pl.String, "days": pl.Int64})


shapes = run.get("series_shapes") or {}
feed = _feed_table(shapes)
if not feed.is_empty():
    said = [words.format(n=len(shapes[key])) for key, _, _, words in FEED if shapes.get(key)]
    st.warning(f"Sales feed at the cutoff ({run['cutoff']:%d %b %Y}): {'; '.join(said)}.")
    with st.expander("Which series"):
        table(_linked(feed, "SKU", "region"), "feed_shapes", column_config={"open": EXPLORER})

st.subheader("Job health")
jobs = data.job_health()
if jobs.is_empty():
    st.info("No scheduled job has run yet (`demand scheduler start`).")
else:
    last = jobs.sort("id", descending=True).group_by("job", maintain_order=True).first()
    waiting = last.filter(pl.col("status") == "waiting")
    problems = data.job_problems()
    open_ = [frame.select("job", "status", "message") for frame in (problems, waiting) if not frame.is_empty()]
    unhealthy = pl.concat(open_) if open_ else pl.DataFrame()
    if unhealthy.height:
        st.error(f"{unhealthy.height} job problem(s) open: " + "; ".join(
            md(f"{r['job']} {r['status']} ({(r['message'] or '')[:300]})") for r in unhealthy.head(3).iter_rows(named=True))
            + (f"; and {unhealthy.height - 3} more (Runs page)" if unhealthy.height > 3 else ""))
    else:
        st.success("Every job's last run succeeded, and no earlier failure is still open.")
    table(last.select("job", "status", "scheduled_for", "finished_at", "rows", "message"), "job_health")
    if not problems.is_empty():
        st.caption("Open problems: failed, partial, aborted or abandoned runs no later success of the same job has "
                   "put right (a sales pull's, only a later pull that took new rows).")
        table(problems.select("job", "status", "scheduled_for", "finished_at", "rows", "message"), "job_problems")

st.subheader("Regional shocks")
shocks, settings = data.shock_flags(), get_settings()
flagged = shocks.filter(pl.col("flag") != "cleared") if not shocks.is_empty() else shocks
if flagged.is_empty():
    st.success("No region is flagged: case counts are not rising fast and forecasts are holding their bands.")
else:
    memory = f" and fit on their last {settings.shock_window_days} days" if settings.shock_window_days else ""
    st.error(f"Regional shock flagged in {flagged.height} region(s): {md(', '.join(flagged['region']))}. Their series' "
             f"bands are widened x{settings.shock_band_factor:g}{memory} until the flag clears.")
if not shocks.is_empty():
    table(shocks, "shock_flags")
st.caption("A region is flagged when its new cases per 100k rise fast week on week, or when many of its series "
           f"fall outside their 80% bands at once; the flag clears after {settings.shock_hold_days} days "
           "without either (`demand forecast shocks`).")

st.subheader("Exceptions")
found = data.exceptions()
tabs = st.tabs(["Largest changes since the previous run", "Poor recent accuracy"])
with tabs[0]:
    if found["changes"].is_empty():
        st.caption("Only one run is published so far.")
    else:
        table(_linked(found["changes"]), "largest_changes", column_config={"open": EXPLORER})
with tabs[1]:
    if found["poor_accuracy"].is_empty():
        st.caption("No tracked accuracy yet (the accuracy job compares published forecasts with new actuals).")
    else:
        table(_linked(found["poor_accuracy"]), "poor_accuracy", column_config={"open": EXPLORER})

st.subheader("All series, day by day")
st.plotly_chart(totals_figure(data.daily_totals()), key="daily_totals")

st.subheader("Forecast by region and category, against the same days last year")
totals = data.region_totals()
table(totals, "region_totals")
