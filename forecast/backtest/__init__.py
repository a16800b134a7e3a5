"""Rolling-origin backtests with point-in-time signals, their metrics (with M5's WRMSSE), and model selection."""

from __future__ import annotations

from forecast.backtest.config import BacktestConfig
from forecast.backtest.run import BacktestReport, rerun_backtest, run_backtest

__all__ = ["BacktestConfig", "BacktestReport", "rerun_backtest", "run_backtest"]
