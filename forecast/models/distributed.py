"""The Dask execution engine: a client for a scheduler address, polars frames to Dask and back.

With `execution="dask"` (`--engine dask` on the command line) the statsforecast models run through
statsforecast's fugue backend and XGBoost through mlforecast's `DistributedMLForecast` with
`DaskXGBForecast`. The adapters (`StatisticalAdapter`, `GradientBoostingAdapter`) take a
`DaskEngine` and switch the library call they make; everything Dask-specific they share is here.

Choices:

- `connect` keeps one client per address for the life of the process (a backtest builds a
  `Forecaster` per window; they share it). The address `local` starts a `LocalCluster` on this
  machine (one single-threaded worker process per core) instead of connecting to one.
- Connecting waits `dask_connect_timeout` seconds (settings) for the scheduler and for a first
  worker; an unreachable scheduler or one without workers is an `InvalidInputError`.
- `DaskEngine.frame` partitions by `unique_id` (every series whole in one partition, which
  `DistributedMLForecast` relies on: it does not repartition Dask frames) into one partition per
  worker thread; dates become pandas `datetime64[ns]`.
- `DaskEngine.collect` brings a result back as polars: `ds` as Date, floats as Float64 (statsforecast's
  fugue schema is float32, so its values carry about 6e-8 relative rounding), missing floats as
  NaN, which is how the local engine marks a failed series.
- The workers unpickle this project's model wrappers and date features by reference: they need
  this package and the same library versions installed (see the README).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl

from forecast.errors import InvalidInputError

__all__ = ["ENGINES", "LOCAL_CLUSTER", "DaskEngine", "Execution", "connect", "dask_engine",
           "pandas_date_features", "pandas_freq", "shutdown"]

logger = logging.getLogger(__name__)

Execution = Literal["local", "dask"]
ENGINES: tuple[str, ...] = ("local", "dask")
LOCAL_CLUSTER = "local"
"""`--dask-address local`: start a LocalCluster on this machine rather than connect to a scheduler."""
_PANDAS_FREQ = {"1d": "D", "1w": "7D", "1mo": "MS"}
"""polars offsets (what the local adapters use) -> pandas aliases with the same steps (not "W": W-SUN)."""
_CLIENTS: dict[str, Any] = {}
_LOCAL: list[Any] = []


def pandas_freq(offset: str) -> str:
    """The pandas alias stepping like the polars `offset` ("1d" -> "D", "1w" -> "7D", "1mo" -> "MS")."""
    return _PANDAS_FREQ[offset]


# Calendar features computed on the workers' pandas dates, with the values and names polars gives
# the local engine (`.dt.weekday()` is 1-7, pandas' `weekday` 0-6).
def weekday(dates: pd.DatetimeIndex) -> np.ndarray:
    """ISO weekday, Monday 1 to Sunday 7 (polars `dt.weekday`)."""
    return np.asarray(dates.weekday + 1)


def month(dates: pd.DatetimeIndex) -> np.ndarray:
    """Month 1-12."""
    return np.asarray(dates.month)


def ordinal_day(dates: pd.DatetimeIndex) -> np.ndarray:
    """Day of the year, 1-366 (polars `dt.ordinal_day`)."""
    return np.asarray(dates.dayofyear)


def week(dates: pd.DatetimeIndex) -> np.ndarray:
    """ISO week number (polars `dt.week`)."""
    return np.asarray(dates.isocalendar().week)


_DATE_FEATURES = {f.__name__: f for f in (weekday, month, ordinal_day, week)}


def pandas_date_features(names: list[str]) -> list[Any]:
    """The callables computing the polars calendar fields `names` on pandas dates."""
    return [_DATE_FEATURES[name] for name in names]


def _connect_timeout() -> float:
    from forecast.settings import get_settings

    return get_settings().dask_connect_timeout


def connect(address: str, *, timeout: float | None = None) -> Any:
    """A `distributed.Client` for `address` (cached), or for a new LocalCluster when it is `local`.

    Raises:
        InvalidInputError: the scheduler cannot be reached, or has no worker, within `timeout` seconds.
    """
    address = address.strip()
    if not address:
        raise InvalidInputError("--dask-address is empty; give the scheduler as tcp://HOST:PORT, or `local`")
    cached = _CLIENTS.get(address)
    if cached is not None and cached.status == "running":
        return cached
    timeout = _connect_timeout() if timeout is None else timeout
    client = _local_client() if address == LOCAL_CLUSTER else _remote_client(address, timeout)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise InvalidInputError(f"the Dask scheduler at {address} has no worker after {timeout:g} s ({exc}); "
                                f"start one on each worker host with `dask worker {address}`") from None
    threads = client.nthreads()
    logger.info("Dask: connected to %s (%d worker(s), %d thread(s))", address, len(threads), sum(threads.values()))
    _CLIENTS[address] = client
    return client


def _remote_client(address: str, timeout: float) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"cannot reach the Dask scheduler at {address} ({detail}); start one with "
            "`dask scheduler` and `dask worker tcp://HOST:8786` and pass --dask-address tcp://HOST:8786 "
            "(or DEMAND_DASK_ADDRESS), or use --dask-address local for a cluster on this machine") from None


def _local_client() -> Any:
    """A client of this process's LocalCluster (started once): one single-threaded worker process per core."""
    from distributed import Client, LocalCluster

    if not _LOCAL or _LOCAL[0].status.name != "running":
        _LOCAL[:] = [LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR)]
        logger.info("Dask: started a LocalCluster with %d worker(s) at %s (dashboard %s)", os.cpu_count() or 1,
                    _LOCAL[0].scheduler_address, _LOCAL[0].dashboard_link)
    return Client(_LOCAL[0])


def shutdown() -> None:
    """Close every cached client and the LocalCluster this process started, if any."""
    for client in _CLIENTS.values():
        client.close()
    _CLIENTS.clear()
    for cluster in _LOCAL:
        cluster.close()
    _LOCAL.clear()


def dask_engine(execution: str, dask_address: str | None) -> DaskEngine | None:
    """The engine a `Forecaster` hands its adapters: None for `local`, a connected `DaskEngine` for `dask`.

    Raises:
        InvalidInputError: an unknown engine, `dask` without an address, or an unreachable scheduler.
    """
    if execution not in ENGINES:
        raise InvalidInputError(f"engine {execution!r} is unknown; use one of {', '.join(ENGINES)}")
    if execution == "local":
        return None
    if not dask_address:
        raise InvalidInputError("--engine dask needs --dask-address tcp://HOST:PORT (or DEMAND_DASK_ADDRESS), "
                                "or --dask-address local to start a cluster on this machine")
    return DaskEngine(dask_address)


class DaskEngine:
    """A connected Dask cluster, and the frame conversions the distributed adapters need.

    Args:
        address: The scheduler, `tcp://HOST:PORT`, or `local` for a LocalCluster on this machine.
        timeout: Seconds to wait for the scheduler and a first worker (default: settings).
    """

    def __init__(self, address: str, *, timeout: float | None = None) -> None:
        self.address = address
        self.client = connect(address, timeout=timeout)

    def __repr__(self) -> str:
        return f"DaskEngine({self.address!r})"

    @property
    def threads(self) -> int:
        """Worker threads in the cluster now."""
        return max(1, sum(self.client.nthreads().values()))

    @contextmanager
    def active(self) -> Iterator[None]:
        """Run the enclosed library calls on this cluster (fugue's context engine and Dask's current client)."""
        import fugue.api as fa

        with self.client.as_current(), fa.engine_context(self.client):
            yield

    def frame(self, frame: pl.DataFrame) -> Any:
        """`frame` as a Dask DataFrame partitioned by `unique_id` (each series whole in one partition)."""
        import dask.dataframe as dd

        data = frame.sort("unique_id", "ds").to_pandas()
        data["ds"] = data["ds"].astype("datetime64[ns]")
        parts = max(1, min(self.threads, frame.get_column("unique_id").n_unique()))
        return dd.from_pandas(data.set_index("unique_id"), npartitions=parts, sort=True).reset_index()

    def collect(self, frame: Any) -> pl.DataFrame:
        """A Dask result computed on the cluster, as polars (ds Date, floats Float64, missing floats NaN)."""
        data = self.client.compute(frame, sync=True).reset_index(drop=True)
        out = pl.from_pandas(data)
        floats = [c for c, t in out.schema.items() if t.is_float()]
        return out.with_columns(pl.col("ds").cast(pl.Date), *[pl.col(c).cast(pl.Float64).fill_null(float("nan"))
                                                                for c in floats])
