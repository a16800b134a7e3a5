"""Whole-database consistency checks: what a crash must never leave behind.

Each check is one SQL count over tables that have no foreign key on purpose (the bulk-written
forecast and sales tables) or over invariants a key cannot express: every published series points
at a published run, every published run has all its rows, no row belongs to a batch or run that
does not exist. Draft runs a killed process left are reported apart: nothing reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["CHECKS", "IntegrityReport", "check_integrity"]

CHECKS: dict[str, str] = {
    "forecast rows of no run": "SELECT count(*) FROM forecast_value v WHERE NOT EXISTS "
                               "(SELECT 1 FROM forecast_run r WHERE r.id = v.run_id)",
    "contributions of no run": "SELECT count(*) FROM forecast_contribution c WHERE NOT EXISTS "
                               "(SELECT 1 FROM forecast_run r WHERE r.id = c.run_id)",
    "published series pointing at a run that is not published":
        "SELECT count(*) FROM published_series p JOIN forecast_run r ON r.id = p.run_id WHERE r.status != 'published'",
    "published series whose run lacks some of its days":
        "SELECT count(*) FROM published_series p JOIN forecast_run r ON r.id = p.run_id "
        "WHERE (SELECT count(*) FROM forecast_value v WHERE v.run_id = p.run_id AND v.sku_id = p.sku_id "
        "AND v.region_id = p.region_id) != r.horizon",
    "published runs no series points at":
        "SELECT count(*) FROM forecast_run r WHERE r.status = 'published' AND r.kind = 'forecast' AND NOT EXISTS "
        "(SELECT 1 FROM published_series p WHERE p.run_id = r.id)",
    "sales rows of no batch": "SELECT count(*) FROM sales s WHERE NOT EXISTS "
                              "(SELECT 1 FROM ingest_batch b WHERE b.id = s.batch_id)",
    "sales history rows of no batch": "SELECT count(*) FROM sales_history s WHERE NOT EXISTS "
                                      "(SELECT 1 FROM ingest_batch b WHERE b.id = s.batch_id)",
    "rejected rows of no batch": "SELECT count(*) FROM rejected_row j WHERE NOT EXISTS "
                                 "(SELECT 1 FROM ingest_batch b WHERE b.id = j.batch_id)",
    "backtest forecasts of no backtest": "SELECT count(*) FROM backtest_forecast f WHERE NOT EXISTS "
                                         "(SELECT 1 FROM backtest_run b WHERE b.id = f.run_id)",
    "backtest metrics of no backtest": "SELECT count(*) FROM backtest_metric m WHERE NOT EXISTS "
                                       "(SELECT 1 FROM backtest_run b WHERE b.id = m.run_id)",
}
"""Problem -> a count that must be 0."""

_DRAFTS = "SELECT count(*) FROM forecast_run WHERE status = 'draft'"


@dataclass(frozen=True)
class IntegrityReport:
    """Problems found (problem -> rows), and draft runs left unfinished (harmless: never read)."""

    problems: dict[str, int]
    drafts: int

    @property
    def ok(self) -> bool:
        return not self.problems


def check_integrity(*, session: Session) -> IntegrityReport:
    """Run every check of `CHECKS` in one read transaction."""
    counts = {name: int(session.execute(text(sql)).scalar_one()) for name, sql in CHECKS.items()}
    return IntegrityReport({name: n for name, n in counts.items() if n}, int(session.execute(text(_DRAFTS)).scalar_one()))
