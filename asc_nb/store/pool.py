"""How a sync runs its jobs: one face over the executors, the progress bar, and the API call counter.

:class:`Pool` hides whether jobs run on local threads, a ``concurrent.futures.Executor`` or a
``dask.distributed.Client``; :class:`Bar` is the tqdm bar or the caller's progress callback;
:class:`CallCounter` charges each API response to the sync row being worked on.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
from typing import Any, Protocol

from asc_nb.protocols import SyncClient
from asc_nb.store.worker import SyncJob, run_job

__all__ = ["LOCAL_WORKERS", "Bar", "CallCounter", "Pool"]

LOCAL_WORKERS = 8


class _Charged(Protocol):
    api_calls: int


class CallCounter:
    """Counts the client's API responses (retries included) and charges them to the current row.

    The row is per thread (segment listings run on a few threads); a response on a thread that
    is not ours (a widget using the same client meanwhile) is not counted.
    """

    def __init__(self, client: SyncClient) -> None:
        self.http = client.http.client
        self.local = threading.local()
        self.total = 0
        self._lock = threading.Lock()
        self._main = threading.get_ident()

    @property
    def current(self) -> _Charged | None:
        return getattr(self.local, "row", None)

    @current.setter
    def current(self, row: _Charged | None) -> None:
        self.local.row = row

    def __call__(self, response: Any) -> None:
        row = self.current
        if row is None and threading.get_ident() != self._main:
            return
        with self._lock:
            self.total += 1
            if row is not None:
                row.api_calls += 1

    def __enter__(self) -> CallCounter:
        hooks = {k: list(v) for k, v in self.http.event_hooks.items()}
        hooks.setdefault("response", []).append(self)
        self.http.event_hooks = hooks
        return self

    def __exit__(self, *exc: object) -> None:
        hooks = {k: [h for h in v if h is not self] for k, v in self.http.event_hooks.items()}
        self.http.event_hooks = hooks


def _is_dask(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


class Pool:
    """One face over ``None`` (local threads), a ``concurrent.futures.Executor`` or a ``dask.distributed.Client``."""

    def __init__(self, executor: Any) -> None:
        self.owned = executor is None
        self.dask = _is_dask(executor)
        if executor is None:
            executor = cf.ThreadPoolExecutor(LOCAL_WORKERS, thread_name_prefix="asc-nb-store")
        elif not self.dask and not isinstance(executor, cf.Executor):
            raise TypeError(
                "executor= takes a concurrent.futures.Executor or a dask.distributed.Client, "
                f"got {type(executor).__name__}"
            )
        self.executor = executor
        if self.dask:
            threads = sum((executor.nthreads() or {}).values()) or 2
        else:
            threads = getattr(executor, "_max_workers", LOCAL_WORKERS)
        self.window = max(8, 2 * int(threads))
        #: worker threads in this process can use the client's own download transport
        self.same_process = self.owned or isinstance(executor, cf.ThreadPoolExecutor)

    def submit(self, job: SyncJob) -> Any:
        if self.dask:
            return self.executor.submit(run_job, job, pure=False)
        return self.executor.submit(run_job, job)

    def close(self) -> None:
        if self.owned:
            self.executor.shutdown(wait=True, cancel_futures=True)


class Bar:
    def __init__(self, progress: Any, total: int) -> None:
        self.callback = progress if callable(progress) else None
        self.total, self.count = total, 0
        self.bar = None
        if progress is True and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="sync", unit="instance", file=sys.stderr)

    def done(self) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(self.count, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
