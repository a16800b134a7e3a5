"""Names of the aggregate nodes of reconciled totals, as `forecast_total` stores them.

Light on purpose (no model libraries): the dashboard looks totals up by these names.
"""

from __future__ import annotations

__all__ = ["TOTAL", "level_of", "node_name"]

TOTAL = "total"


def level_of(category: str | None, region: str | None) -> str:
    """The aggregate level of a category and/or region (None: all of them)."""
    return {(False, False): TOTAL, (True, False): "category", (False, True): "region",
            (True, True): "category x region"}[(category is not None, region is not None)]


def node_name(*keys: str, escaped: bool = False) -> str:
    r"""A node's stored name: its keys (category, region; the ones its level has) under `total`,
    joined with `/`, e.g. `total/home/garden/CA/SF` for category `home/garden` in region `CA/SF`.

    With `escaped`, every `\` and `/` inside a key is preceded by a `\` (`total/home\/garden/CA\/SF`).
    A level is stored escaped only when two of its nodes would otherwise have one name (category
    `a/b` in region `c`, and category `a` in region `b/c`); the level column tells the rest apart.
    """
    if escaped:
        keys = tuple(k.replace("\\", "\\\\").replace("/", "\\/") for k in keys)
    return "/".join((TOTAL, *keys))
