# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= var/demo
# Models of the demo's forecast run (its time: benchmarks/README.md); `auto` is slower.
DEMO_MODELS ?= SeasonalNaive AutoTheta CrostonOptimized XGBoost
# The demo's dashboard login (user `planner`); for the demo only, never for real data.
DEMO_PASSWORD ?= demo-planner
# Interleaved repeats of `make bench` (ours, bare, ours, ...); 1 keeps its time, each more adds as much again.
BENCH_REPEATS ?= 1
comma := ,
empty :=
space := $(empty) $(empty)
# The demo's scheduler: a sales pull every minute from the inbox, the nightly jobs at their default times.
DEMO_SCHEDULER = DEMAND_SALES_DROP_DIR=$(DEMO)/inbox DEMAND_SIGNALS_CONFIG=$(DEMO)/signals.toml \
	DEMAND_SCHEDULE_SALES_PULL='* * * * *' DEMAND_N_JOBS=2 \
	DEMAND_FORECAST_MODELS='[$(subst $(space),$(comma),$(DEMO_MODELS:%="%"))]'

.PHONY: install demo test audit bench bench-publish bench-peer bench-ingest bench-forecast bench-uplift bench-m5 bench-shock bench-shock-policy bench-totals bench-cold-start bench-dashboard clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the service with its test tools

demo: install  ## migrate the SQLite default, generate and ingest the demo scenario (sales, signals), publish a forecast run, serve the dashboard beside the scheduler
	$(BIN)/demand db upgrade
	$(BIN)/demand demo generate --out $(DEMO)
	$(BIN)/demand ingest regions $(DEMO)/regions.csv
	$(BIN)/demand ingest skus $(DEMO)/skus.csv
	$(BIN)/demand ingest sales $(DEMO)/sales.csv.gz
	$(BIN)/demand signals pull --config $(DEMO)/signals.toml
	$(BIN)/demand summary
	$(BIN)/demand forecast run --horizon 28 --n-jobs 2 $(DEMO_MODELS:%=--models %)
	printf '%s\n' '$(DEMO_PASSWORD)' | $(BIN)/demand users add planner --role planner --password-stdin
	mkdir -p $(DEMO)/inbox
	@echo "dashboard on http://127.0.0.1:8501 (user planner, password $(DEMO_PASSWORD)) beside the scheduler; Ctrl-C stops both; drop sales files into $(DEMO)/inbox"
	$(DEMO_SCHEDULER) $(BIN)/demand scheduler start & scheduler=$$!; \
	  trap 'kill -TERM $$scheduler 2>/dev/null; wait $$scheduler' EXIT; $(BIN)/demand dashboard

test: install  ## the whole test suite (PostgreSQL tests skip locally when no server answers; never in CI)
	$(BIN)/python -m pytest

audit: install  ## pip-audit over the installed dependencies; fails on a known vulnerability with a fix
	$(BIN)/python .ci/audit.py

bench: install  ## the nightly cycle on 1,000 series against the bare library calls (BENCH_REPEATS=5: interleaved repeats, median ratio and spread); writes benchmarks/results/throughput_1000.json
	$(BIN)/python benchmarks/throughput.py --series 1000 --repeats $(BENCH_REPEATS)

bench-publish: install  ## 10 runs of 1,000,000 forecast rows published to PostgreSQL, then 50 concurrent readers; writes benchmarks/results/publish_read.json
	$(BIN)/python benchmarks/publish_read.py

bench-peer: install  ## one Prophet per M5 series (the peer approach) against our nightly run, time and WRMSSE; writes benchmarks/results/peer_prophet.json
	$(BIN)/python benchmarks/peer_prophet.py

bench-ingest: install  ## 1,000,000 rows into SQLite and PostgreSQL; writes benchmarks/results/ingest.json
	$(BIN)/python benchmarks/ingest.py

bench-forecast: install  ## series per second per model family on 1,000 daily series; writes benchmarks/results/forecast.json
	$(BIN)/python benchmarks/forecast.py

bench-uplift: install  ## measured vs planted livestream uplift on the demo; writes benchmarks/results/livestream_uplift.json
	$(BIN)/python benchmarks/livestream_uplift.py

bench-m5: install  ## WRMSSE on the real M5 sample (backtest, 4 windows); writes benchmarks/results/accuracy_m5.json
	$(BIN)/python benchmarks/accuracy_m5.py

bench-shock: install  ## Iowa liquor sales through the 2020 onset, with and without case counts; writes benchmarks/results/signals_shock.json
	$(BIN)/python benchmarks/signals_shock.py

bench-shock-policy: install  ## the regional-shock policy on and off through the demo's epidemic wave and Iowa 2020; writes benchmarks/results/shock_policy.json
	$(BIN)/python benchmarks/shock_policy.py

bench-totals: install  ## accuracy at the category, region and total levels before and after reconciliation (demo and M5 backtests); writes benchmarks/results/coherent_totals.json
	$(BIN)/python benchmarks/coherent_totals.py

bench-cold-start: install  ## SKUs launched mid-history forecast 7/14/21 days after launch with and without their analogues; writes benchmarks/results/cold_start.json
	$(BIN)/python benchmarks/cold_start.py

bench-dashboard: install  ## the dashboard in Chromium with 10,000 series: first explorer render, page changes; writes benchmarks/results/dashboard.json
	$(BIN)/python benchmarks/dashboard.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
