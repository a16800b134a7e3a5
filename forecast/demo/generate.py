"""Seeded synthetic retail scenario for `make demo`, with planted effects the models should recover.

Every SKU is sold in every leaf region on every day from its launch to the end of the history.
Expected units per SKU × region × day are a product of independent multipliers::

    lambda = base(sku, region) × trend(sku, day) × ramp(sku, day) × weekly(category, weekday)
             × yearly(category, day of year) × promo(sku, region, day) × epidemic(category, region, day)
             × livestream(event, sku, region, day)

- base: rate per million inhabitants per day × region population (slow movers: a level below 0.35
  a day in the most populous region, scaled down by population);
- trend: exp(g × day / 365.25) with a per-SKU growth rate g (0 for slow movers);
- ramp: 1 - exp(-(day - launch) / 14) for SKUs launched mid-history, else 1;
- weekly: seven multipliers per category with mean 1 (Monday first);
- yearly: exp(sum_k A_k cos(2πk (doy - peak_k) / 365.25)) per category;
- promo: (1 - discount) ** -elasticity(category) on promoted days, 0.85 on the 3 days before a
  promotion starts (buyers wait), else 1;
- epidemic: exp(beta(category) × cases7d_per_100k / 100) where cases7d_per_100k is the trailing
  7-day mean (fewer days at the start) of the region's `new_cases` per 100k on that day;
- livestream: the event's realised multiplier host_uplift × (1 + discount) × exp(N(0, 0.08²)) on the
  event's local day, for its featured SKUs (or, when `skus` is empty, every launched SKU of its
  category) in its regions; cancelled events multiply by 1.

Units are negative binomial draws with mean lambda and size r(category) (r = 0.5 for slow movers).
Prices are the base price × (1 - promo discount) × (1 - livestream discount). `ground_truth.json`
records every parameter and the multiplier applied for each promotion and event.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from forecast.errors import InvalidInputError

logger = logging.getLogger(__name__)

__all__ = ["DemoScenario", "generate_demo"]

CATEGORIES = ("staples", "fashion", "electronics")
CODES = {"staples": "STA", "fashion": "FAS", "electronics": "ELE"}
BEHAVIOUR = {"staples": "stable", "fashion": "seasonal", "electronics": "promo_sensitive"}
RATE_PER_MILLION = {"staples": (4.0, 12.0), "fashion": (3.0, 8.0), "electronics": (2.5, 6.0)}
PRICE_RANGE = {"staples": (1.5, 15.0), "fashion": (15.0, 120.0), "electronics": (20.0, 400.0)}
_WEEKLY_RAW = {
    "staples": (0.85, 0.8, 0.85, 0.9, 1.1, 1.35, 1.15),
    "fashion": (0.9, 0.9, 0.95, 0.95, 1.05, 1.2, 1.05),
    "electronics": (0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.0),
}
WEEKLY = {c: tuple(round(v / (sum(w) / 7), 4) for v in w) for c, w in _WEEKLY_RAW.items()}
YEARLY = {  # (harmonic k, amplitude A_k, peak day of year)
    "staples": ((1, 0.04, 355),),
    "fashion": ((1, 0.35, 300), (2, 0.2, 100)),
    "electronics": ((1, 0.2, 335), (2, 0.05, 335)),
}
PROMO_ELASTICITY = {"staples": 2.0, "fashion": 2.5, "electronics": 3.5}
PROMO_GAP_DAYS = {"staples": 120, "fashion": 100, "electronics": 80}
PRE_PROMO_DAYS, PRE_PROMO_DIP = 3, 0.85
EPIDEMIC_BETA = {"staples": 0.45, "fashion": -0.5, "electronics": 0.3}
DISPERSION = {"staples": 30.0, "fashion": 10.0, "electronics": 8.0, "slow_mover": 0.5}
LAUNCH_RAMP_DAYS = 14.0
EVENT_CATEGORY_P = {"staples": 0.15, "fashion": 0.35, "electronics": 0.5}
EVENT_NOISE_SD = 0.08
HOSTS = (  # name, platform, base uplift, mean viewers
    ("Mia Chen", "ShopLive", 1.4, 20_000),
    ("Leo Park", "StreamMart", 1.9, 60_000),
    ("Ana Reyes", "ShopLive", 2.6, 150_000),
    ("Kai Moreau", "StreamMart", 3.5, 400_000),
)
TZ = "+08:00"
MAX_CELLS = 12_000_000  # the simulation holds ~10 dense float arrays of this size (~1 GB at the limit);
# 10,000 series x 3 years (the throughput benchmark) fit
PARENTS = (("AREA-N", "North"), ("AREA-S", "South"), ("AREA-W", "West"))
REGION_NAMES = ("Ashford", "Brindlemoor", "Calderton", "Dunmore", "Elmstead", "Farrowgate", "Glenholt",
                "Harwick", "Ivybridge", "Jarrowby", "Kestrel Bay", "Larkspur", "Marlow Vale", "Northwick")
SKU_NOUNS = {
    "staples": ("Rice 5kg", "Pasta 500g", "Toilet paper 12-pack", "Hand soap 500ml", "Canned tomatoes",
                "Wheat flour 1kg", "Sunflower oil 1L", "Still water 6x1.5L", "Oat milk 1L", "Dish detergent"),
    "fashion": ("Linen shirt", "Denim jacket", "Wool scarf", "Summer dress", "Rain parka", "Knit sweater",
                "Chino trousers", "Leather belt", "Canvas sneakers", "Down vest"),
    "electronics": ("Webcam 1080p", "Wireless headset", "USB-C hub", "Laptop stand", "27in monitor",
                    "Mechanical keyboard", "Wi-Fi router", "Portable SSD 1TB", "ANC earbuds", "LED desk lamp"),
}
DESCRIPTIONS = {
    "base": "Demand scales with region population; each SKU has its own rate per million inhabitants.",
    "trend": "Each SKU grows or shrinks slowly over the years (slow movers are flat).",
    "launch": "Some fashion SKUs launch mid-history and ramp up over about two weeks: short histories.",
    "weekly": "Staples have a strong weekend peak, fashion a moderate one, electronics a mild one.",
    "yearly": "Fashion is strongly seasonal (autumn peak, spring bump); electronics peak in late "
              "November/December; staples barely move.",
    "promotions": "Promoted days sell more, the more so the deeper the discount and the more price-sensitive "
                  "the category (electronics most); the 3 days before a promotion dip (buyers wait).",
    "epidemic": "One epidemic wave late in the history: staples rise (stockpiling), electronics rise (home "
                "office), fashion falls; the effect follows each region's own 7-day case rate.",
    "livestreams": "A livestream lifts its featured SKUs in its regions on its day by the host's uplift, a bit "
                   "more with a discount; bigger hosts lift more. Cancelled events change nothing.",
    "slow_movers": "A few SKUs in every category sell rarely (mean under 0.5 a day, mostly zero days).",
}


@dataclass(frozen=True)
class DemoScenario:
    """What `generate_demo` wrote: the file paths and a few counts."""

    out_dir: Path
    regions: Path
    skus: Path
    sales: Path
    case_counts: Path
    livestreams: Path
    promotions: Path
    ground_truth: Path
    n_skus: int
    n_regions: int
    n_sales_rows: int
    first_day: dt.date
    last_day: dt.date
    n_events: int
    n_promotions: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy: paths as strings, days as ISO dates."""
        return {f.name: (str(v) if isinstance(v, Path) else v.isoformat() if isinstance(v, dt.date) else v)
                for f in fields(self) for v in [getattr(self, f.name)]}


@dataclass(frozen=True)
class _Skus:
    ids: list[str]
    cat: np.ndarray  # category index per SKU
    slow: np.ndarray  # bool
    launch: np.ndarray  # day index
    frame: pl.DataFrame  # skus.csv plus rate, growth


def _rng_streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("regions", "skus", "cases", "events", "promos", "units")
    return {n: np.random.default_rng(s) for n, s in zip(names, np.random.SeedSequence(seed).spawn(len(names)))}


def _check_args(n_skus: int, n_regions: int, days: int) -> None:
    if not 9 <= n_skus <= 999:
        raise InvalidInputError(f"n_skus={n_skus}: expected 9 to 999 (three categories plus slow movers)")
    if not 2 <= n_regions <= 99:
        raise InvalidInputError(f"n_regions={n_regions}: expected 2 to 99 leaf regions")
    if not 180 <= days <= 3660:
        raise InvalidInputError(f"days={days}: expected 180 to 3660 days so the epidemic wave fits")
    if n_skus * n_regions * days > MAX_CELLS:
        raise InvalidInputError(f"n_skus × n_regions × days = {n_skus * n_regions * days:,} is more than "
                                f"{MAX_CELLS:,} sales rows; make one of them smaller")


def _make_regions(rng: np.random.Generator, n_regions: int) -> pl.DataFrame:
    parents = PARENTS[: 2 if n_regions < 6 else 3]
    ids = [f"R{i + 1:02d}" for i in range(n_regions)]
    names = [REGION_NAMES[i] if i < len(REGION_NAMES) else f"Region {i + 1:02d}" for i in range(n_regions)]
    pop = np.round(np.exp(rng.uniform(np.log(0.3e6), np.log(9e6), n_regions)), -3).astype(np.int64)
    parent_of = [parents[i % len(parents)][0] for i in range(n_regions)]
    leaves = pl.DataFrame({"region": ids, "name": names, "parent": parent_of, "population": pop})
    tops = pl.DataFrame({"region": [p[0] for p in parents], "name": [p[1] for p in parents],
                         "parent": [None] * len(parents),
                         "population": [int(pop[[q == p[0] for q in parent_of]].sum()) for p in parents]},
                        schema=leaves.schema)
    return pl.concat([tops, leaves])


def _make_skus(rng: np.random.Generator, n_skus: int, start: dt.date, days: int) -> _Skus:
    counts = [round(0.4 * n_skus), round(0.3 * n_skus)]
    cat = np.repeat(np.arange(3), counts + [n_skus - sum(counts)])
    slow = np.zeros(n_skus, dtype=bool)
    for k in range(max(3, round(0.1 * n_skus))):  # last SKUs of each category, round robin
        members = np.flatnonzero((cat == k % 3) & ~slow)
        slow[members[-1]] = True
    launch = np.zeros(n_skus, dtype=np.int64)
    fashion = np.flatnonzero((cat == 1) & ~slow)
    late = rng.choice(fashion[1:], size=max(1, round(0.25 * len(fashion))), replace=False)
    launch[late] = rng.integers(int(0.35 * days), int(0.65 * days), size=len(late))
    cats = [CATEGORIES[c] for c in cat]
    lo, hi = (np.array([r[i] for r in map(RATE_PER_MILLION.get, cats)]) for i in (0, 1))
    rate = np.where(slow, rng.uniform(0.12, 0.3, n_skus), rng.uniform(lo, hi))
    plo, phi = (np.log([r[i] for r in map(PRICE_RANGE.get, cats)]) for i in (0, 1))
    price = np.maximum(np.round(np.exp(rng.uniform(plo, phi))) - 0.01, 0.99)
    growth = np.where(slow, 0.0, np.round(rng.uniform(-0.04, 0.10, n_skus), 4))
    ids = [f"{CODES[c]}-{i + 1:03d}" for i, c in enumerate(cats)]
    seen: dict[str, int] = {}
    names = []
    for c in cats:
        nouns = SKU_NOUNS[c]
        k = seen[c] = seen.get(c, -1) + 1
        names.append(nouns[k % len(nouns)] + (f" v{k // len(nouns) + 1}" if k >= len(nouns) else ""))
    frame = pl.DataFrame({
        "sku": ids, "name": names, "category": cats,
        "behaviour": [("slow_mover" if s else BEHAVIOUR[c]) for s, c in zip(slow, cats)],
        "base_price": np.round(price, 2), "launch_day": [start + dt.timedelta(days=int(d)) for d in launch],
        "rate": np.round(rate, 4), "growth": growth,
    })
    return _Skus(ids=ids, cat=cat, slow=slow, launch=launch, frame=frame)


def _make_cases(rng: np.random.Generator, pop: np.ndarray, days: int) -> tuple[np.ndarray, dict[str, Any]]:
    n = len(pop)
    scale = min(1.0, days / 1096)
    sigma = np.round(rng.uniform(15, 25, n) * scale, 1)
    spread = rng.uniform(14, 42) * scale
    peak_day = np.round(0.8 * days + rng.uniform(-spread / 2, spread / 2, n)).astype(np.int64)
    height = np.round(rng.uniform(20, 150, n), 1)
    background = 0.05
    t = np.arange(days)
    per_100k = background + height[:, None] * np.exp(-0.5 * ((t[None, :] - peak_day[:, None]) / sigma[:, None]) ** 2)
    counts = rng.poisson(per_100k * pop[:, None] / 1e5)
    params = {"background_per_100k": background, "peak_day_index": peak_day.tolist(), "sigma_days": sigma.tolist(),
              "peak_per_100k": height.tolist(), "stagger_spread_days": round(float(spread), 1)}
    return counts, params


def _cases7d_per_100k(counts: np.ndarray, pop: np.ndarray) -> np.ndarray:
    csum = np.cumsum(counts / pop[:, None] * 1e5, axis=1)
    window = csum.copy()
    window[:, 7:] -= csum[:, :-7]
    return window / np.minimum(np.arange(1, counts.shape[1] + 1), 7)


def _stamp(day: dt.date, minutes: int) -> str:
    return f"{day.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}:00{TZ}"


def _make_events(rng: np.random.Generator, sk: _Skus, region_ids: list[str], start: dt.date,
                 days: int) -> list[dict[str, Any]]:
    n = int(np.clip(round(days * 0.1), 20, 150))
    event_days = np.sort(rng.choice(np.arange(28, days), size=n, replace=False))
    cancelled = set(rng.choice(n, size=max(2, round(0.07 * n)), replace=False).tolist())
    events = []
    for i, d in enumerate(event_days.tolist()):
        host, platform, uplift, viewers = HOSTS[rng.integers(len(HOSTS))]
        c = int(rng.choice(3, p=list(EVENT_CATEGORY_P.values())))
        eligible = np.flatnonzero((sk.cat == c) & ~sk.slow & (sk.launch <= d))
        whole = rng.random() < 0.25 or len(eligible) == 0
        featured = [] if whole else sorted(rng.choice(eligible, size=min(len(eligible), rng.integers(1, 5)),
                                                       replace=False).tolist())
        regions = ([] if rng.random() < 0.5 else
                   sorted(rng.choice(len(region_ids), size=min(len(region_ids), int(rng.integers(1, 4))),
                                     replace=False).tolist()))
        discount = float(rng.choice(np.arange(0, 0.31, 0.05).round(2)))
        start_min, length = int(rng.integers(20, 39)) * 30, int(rng.integers(2, 9)) * 30
        noise = float(np.exp(rng.normal(0, EVENT_NOISE_SD)))
        status = "cancelled" if i in cancelled else "done"
        day = start + dt.timedelta(days=d)
        events.append({
            "event_id": f"LS-{i + 1:04d}", "host": host, "platform": platform, "start": _stamp(day, start_min),
            "end": _stamp(day, start_min + length), "skus": ";".join(sk.ids[s] for s in featured),
            "category": CATEGORIES[c], "regions": ";".join(region_ids[r] for r in regions) or "all",
            "expected_viewers": int(round(viewers * np.exp(rng.normal(0, 0.3)), -2)), "discount": discount,
            "status": status, "announced_at": _stamp(day - dt.timedelta(days=int(rng.integers(3, 22))),
                                                     int(rng.integers(16, 20)) * 30),  # before the start time
            "_day": d, "_skus": featured, "_regions": regions, "_uplift": uplift,
            "_multiplier": 1.0 if status == "cancelled" else round(uplift * (1 + discount) * noise, 4),
        })
    return events


def _make_promotions(rng: np.random.Generator, sk: _Skus, region_ids: list[str], start: dt.date,
                     days: int) -> list[dict[str, Any]]:
    promos = []
    for s in np.flatnonzero(~sk.slow).tolist():
        c = CATEGORIES[sk.cat[s]]
        d = int(sk.launch[s]) + int(rng.integers(7, 60))
        while True:
            length = int(rng.integers(3, 15))
            if d + length > days:
                break
            r = int(rng.integers(-len(region_ids) // 2, len(region_ids)))  # negative: all regions
            discount = round(float(rng.uniform(0.1, 0.4)), 2)
            promos.append({"sku": sk.ids[s], "_s": s, "_r": r, "_d0": d, "_d1": d + length,
                           "region": region_ids[r] if r >= 0 else "all", "discount": discount,
                           "start": start + dt.timedelta(days=d), "end": start + dt.timedelta(days=d + length - 1),
                           "_multiplier": round((1 - discount) ** -PROMO_ELASTICITY[c], 4)})
            d += length + PRE_PROMO_DAYS + int(rng.integers(7, 2 * PROMO_GAP_DAYS[c]))
    promos.sort(key=lambda p: (p["_d0"], p["sku"]))
    for i, p in enumerate(promos):
        p["promo_id"] = f"PR-{i + 1:05d}"
    return promos


def _calendar(start: dt.date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Weekly and yearly multipliers per category × day."""
    dates = np.datetime64(start) + np.arange(days)
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    weekly = np.array([np.asarray(WEEKLY[c])[weekday] for c in CATEGORIES])
    yearly = np.ones((3, days))
    for i, c in enumerate(CATEGORIES):
        log_y = sum(a * np.cos(2 * np.pi * k * (doy - peak) / 365.25) for k, a, peak in YEARLY[c])
        yearly[i] = np.exp(log_y)
    return weekly, yearly


def _promo_arrays(promos: list[dict[str, Any]], shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """Demand multiplier, discount and on-promo flag per SKU × region × day."""
    mult, discount, on = np.ones(shape), np.zeros(shape), np.zeros(shape, dtype=np.int8)
    for p in promos:
        regions = slice(None) if p["_r"] < 0 else p["_r"]
        dip = slice(max(0, p["_d0"] - PRE_PROMO_DAYS), p["_d0"])
        mult[p["_s"], regions, dip] = np.where(on[p["_s"], regions, dip] == 1, mult[p["_s"], regions, dip],
                                               PRE_PROMO_DIP)
        days = slice(p["_d0"], p["_d1"])
        mult[p["_s"], regions, days] = p["_multiplier"]
        discount[p["_s"], regions, days] = p["discount"]
        on[p["_s"], regions, days] = 1
    return mult, discount, on


def _event_arrays(events: list[dict[str, Any]], sk: _Skus, shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """Demand multiplier and discount per SKU × region × day from the events that happened."""
    mult, discount = np.ones(shape), np.zeros(shape)
    for e in events:
        if e["status"] != "done":
            continue
        d = e["_day"]
        skus = e["_skus"] or np.flatnonzero((sk.cat == CATEGORIES.index(e["category"])) & (sk.launch <= d)).tolist()
        regions = e["_regions"] or list(range(shape[1]))
        mult[np.ix_(skus, regions, [d])] = e["_multiplier"]
        discount[np.ix_(skus, regions, [d])] = e["discount"]
    return mult, discount


def _expected_units(sk: _Skus, pop: np.ndarray, cases7d: np.ndarray, start: dt.date,
                    days: int) -> np.ndarray:
    """lambda without promotions and livestreams, per SKU × region × day (0 before launch)."""
    rate, growth = sk.frame["rate"].to_numpy(), sk.frame["growth"].to_numpy()
    base = np.where(sk.slow[:, None], rate[:, None] * pop[None, :] / pop.max(), rate[:, None] * pop[None, :] / 1e6)
    t = np.arange(days)
    since = t[None, :] - sk.launch[:, None]
    ramp = np.where(since < 0, 0.0, np.where(sk.launch[:, None] > 0, 1 - np.exp(-(since + 1) / LAUNCH_RAMP_DAYS), 1.0))
    trend = np.exp(growth[:, None] * t[None, :] / 365.25)
    weekly, yearly = _calendar(start, days)
    beta = np.array([EPIDEMIC_BETA[c] for c in CATEGORIES])[sk.cat]
    epidemic = np.exp(beta[:, None, None] * cases7d[None, :, :] / 100)
    per_sku_day = trend * ramp * weekly[sk.cat] * yearly[sk.cat]
    return base[:, :, None] * per_sku_day[:, None, :] * epidemic


def _sales_frame(sk: _Skus, region_ids: list[str], start: dt.date, units: np.ndarray, price: np.ndarray,
                 on: np.ndarray) -> pl.DataFrame:
    sold = np.arange(units.shape[2])[None, None, :] >= sk.launch[:, None, None]
    s, r, d = np.nonzero(np.broadcast_to(sold, units.shape))
    dates = pl.date_range(start, start + dt.timedelta(days=units.shape[2] - 1), eager=True)
    return pl.DataFrame({
        "sku": pl.Series(sk.ids).gather(s), "region": pl.Series(region_ids).gather(r), "day": dates.gather(d),
        "units": units[s, r, d].astype(np.int64), "price": np.round(price[s, r, d], 2),
        "on_promo": on[s, r, d], "category": pl.Series(sk.frame["category"]).gather(s),
    })


def _public(rows: list[dict[str, Any]], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame([{k: row[k] for k in columns} for row in rows], schema=columns, orient="row")


def _ground_truth(seed: int, params: dict[str, Any], sk: _Skus, region_ids: list[str], epi: dict[str, Any],
                  events: list[dict[str, Any]], promos: list[dict[str, Any]]) -> dict[str, Any]:
    frame = sk.frame
    per_region = {r: {k: v[i] for k, v in epi.items() if isinstance(v, list)} for i, r in enumerate(region_ids)}
    for r, v in per_region.items():
        v["peak_day"] = (params["start"] + dt.timedelta(days=v["peak_day_index"])).isoformat()
    return {
        "seed": seed, "parameters": {**params, "start": params["start"].isoformat(), "timezone": TZ},
        "demand_model": {"formula": "units ~ NegBin(mean=lambda, size=r); lambda = base * trend * ramp * weekly * "
                                    "yearly * promo * epidemic * livestream", "dispersion_r": DISPERSION},
        "description": DESCRIPTIONS,
        "base": {"formula": "rate_per_million * population / 1e6 (slow movers: level * population / max "
                            "population)", "trend_formula": "exp(growth_per_year * day_index / 365.25)",
                 "launch_ramp_formula": f"1 - exp(-(days_since_launch + 1) / {LAUNCH_RAMP_DAYS})",
                 "skus": {row["sku"]: {"rate": row["rate"], "growth_per_year": row["growth"]}
                          for row in frame.iter_rows(named=True)}},
        "weekly": {"order": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], **WEEKLY},
        "yearly": {"formula": "exp(sum_k A_k * cos(2*pi*k*(day_of_year - peak_k)/365.25))",
                   **{c: [{"k": k, "amplitude": a, "peak_day_of_year": p} for k, a, p in YEARLY[c]]
                      for c in CATEGORIES}},
        "promotions": {"formula": "(1 - discount) ** -elasticity[category]", "elasticity": PROMO_ELASTICITY,
                       "pre_promo_dip": {"days": PRE_PROMO_DAYS, "multiplier": PRE_PROMO_DIP},
                       "applied": {p["promo_id"]: p["_multiplier"] for p in promos}},
        "epidemic": {"formula": "exp(beta[category] * cases7d_per_100k / 100)",
                     "cases7d_per_100k": "trailing 7-day mean of new_cases per 100k population on `day` "
                                         "(not reported_at), fewer days at the start", "beta": EPIDEMIC_BETA,
                     "reporting_lag_days": [1, 3], "background_per_100k": epi["background_per_100k"],
                     "stagger_spread_days": epi["stagger_spread_days"], "regions": per_region},
        "livestreams": {"formula": "host_uplift * (1 + discount) * exp(N(0, sd^2)), cancelled -> 1.0",
                        "noise_sd": EVENT_NOISE_SD, "effect_day": f"local date of start ({TZ})",
                        "scope": "featured SKUs, or every launched SKU of `category` when skus is empty, "
                                 "in `regions` (all leaf regions for 'all')",
                        "hosts": {h: {"platform": p, "base_uplift": u, "mean_viewers": v} for h, p, u, v in HOSTS},
                        "applied": {e["event_id"]: {"host": e["host"], "status": e["status"],
                                                    "multiplier": e["_multiplier"]} for e in events}},
        "slow_movers": [s for s, f in zip(sk.ids, sk.slow) if f],
        "late_launches": {row["sku"]: row["launch_day"].isoformat()
                          for row in frame.filter(pl.col("launch_day") > params["start"]).iter_rows(named=True)},
    }


def _write_csv(frame: pl.DataFrame, path: Path, *, gz: bool = False) -> None:
    data = frame.write_csv(float_precision=None if not gz else 2).encode()
    path.write_bytes(gzip.compress(data, compresslevel=6, mtime=0) if gz else data)


def _simulate_sales(rng: np.random.Generator, sk: _Skus, region_ids: list[str], pop: np.ndarray,
                    counts: np.ndarray, events: list[dict[str, Any]], promos: list[dict[str, Any]],
                    start: dt.date) -> pl.DataFrame:
    shape = (len(sk.ids), len(region_ids), counts.shape[1])
    promo_mult, promo_disc, on_promo = _promo_arrays(promos, shape)
    event_mult, event_disc = _event_arrays(events, sk, shape)
    lam = _expected_units(sk, pop, _cases7d_per_100k(counts, pop), start, shape[2]) * promo_mult * event_mult
    size = np.where(sk.slow, DISPERSION["slow_mover"], [DISPERSION[CATEGORIES[c]] for c in sk.cat])
    size = np.broadcast_to(size[:, None, None], shape)
    units = rng.negative_binomial(size, size / (size + lam))
    price = sk.frame["base_price"].to_numpy()[:, None, None] * (1 - promo_disc) * (1 - event_disc)
    return _sales_frame(sk, region_ids, start, units, price, on_promo)


def _case_frame(rng: np.random.Generator, region_ids: list[str], counts: np.ndarray,
                start: dt.date) -> pl.DataFrame:
    n, days = counts.shape
    dates = pl.date_range(start, start + dt.timedelta(days=days - 1), eager=True)
    frame = pl.DataFrame({"region": np.repeat(region_ids, days), "day": pl.concat([dates] * n),
                          "new_cases": counts.ravel().astype(np.int64), "lag": rng.integers(1, 4, size=n * days)})
    return frame.with_columns(reported_at=pl.col("day") + pl.duration(days=pl.col("lag"))).drop("lag")


FILES = {"regions": "regions.csv", "skus": "skus.csv", "sales": "sales.csv.gz", "case_counts": "case_counts.csv",
         "livestreams": "livestreams.csv", "promotions": "promotions.csv", "ground_truth": "ground_truth.json"}
EVENT_COLUMNS = ["event_id", "host", "platform", "start", "end", "skus", "category", "regions",
                 "expected_viewers", "discount", "status", "announced_at"]


def generate_demo(out_dir: Path, *, seed: int = 7, n_skus: int = 50, n_regions: int = 8,
                  start: dt.date = dt.date(2023, 1, 1), days: int = 1096,
                  progress: Callable[[str], None] | None = None) -> DemoScenario:
    """Write a seeded synthetic retail scenario (sales, master data, signals, ground truth) to `out_dir`.

    Args:
        out_dir: folder to write into; created if missing, files in it are overwritten.
        seed: the same seed writes byte-identical files.
        n_skus: SKUs across staples, fashion and electronics (9-999).
        n_regions: leaf regions (2-99), grouped under 2-3 parent areas.
        start: first day of the history.
        days: length of the history in days (180-3660).
        progress: called with a short message before each step.

    Returns:
        The paths written and a few counts.

    Raises:
        InvalidInputError: a size argument is out of range, or all three together exceed `MAX_CELLS`.
    """
    _check_args(n_skus, n_regions, days)
    say = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / file for name, file in FILES.items()}
    rng = _rng_streams(seed)
    say("regions and SKUs")
    regions = _make_regions(rng["regions"], n_regions)
    leaves = regions.filter(pl.col("parent").is_not_null())
    region_ids, pop = leaves["region"].to_list(), leaves["population"].to_numpy().astype(float)
    sk = _make_skus(rng["skus"], n_skus, start, days)
    _write_csv(regions, paths["regions"])
    _write_csv(sk.frame.drop("rate", "growth"), paths["skus"])
    say("case counts, livestreams and promotions")
    counts, epi = _make_cases(rng["cases"], pop, days)
    events = _make_events(rng["events"], sk, region_ids, start, days)
    promos = _make_promotions(rng["promos"], sk, region_ids, start, days)
    _write_csv(_case_frame(rng["cases"], region_ids, counts, start), paths["case_counts"])
    _write_csv(_public(events, EVENT_COLUMNS), paths["livestreams"])
    _write_csv(_public(promos, ["promo_id", "sku", "region", "start", "end", "discount"]), paths["promotions"])
    say("sales")
    sales = _simulate_sales(rng["units"], sk, region_ids, pop, counts, events, promos, start)
    say("writing sales and ground truth")
    _write_csv(sales, paths["sales"], gz=True)
    params = {"n_skus": n_skus, "n_regions": n_regions, "start": start, "days": days}
    truth = _ground_truth(seed, params, sk, region_ids, epi, events, promos)
    paths["ground_truth"].write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    logger.info("demo scenario: %d sales rows, %d events, %d promotions in %s", sales.height, len(events),
                len(promos), out_dir)
    return DemoScenario(out_dir=out_dir, **paths, n_skus=n_skus, n_regions=n_regions, n_sales_rows=sales.height,
                        first_day=start, last_day=start + dt.timedelta(days=days - 1), n_events=len(events),
                        n_promotions=len(promos))
