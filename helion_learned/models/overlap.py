"""Run one call on a helper thread while the caller does other work: bind time scores a kernel's
candidates with two XGBoost models (global and expert), and XGBoost's predict releases the GIL, so
the two overlap on two cores. Outputs are the same numbers: each model scores the same matrix.

One lazily started worker thread serves every call (a thread per call cost ~0.1-0.3 ms here, more
than half of what the overlap saves on small grids). A forked child drops its parent's worker
(it does not exist there) and starts its own on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _worker() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="helion_learned")
    return _pool


def _forget_after_fork() -> None:
    global _pool, _lock
    _pool, _lock = None, threading.Lock()  # the parent's thread and lock state are not ours


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def start(fn: Callable[..., T], *args: Any) -> Future[T] | None:
    """``fn(*args)`` submitted to the worker, or None (the caller then runs it itself) when the
    worker cannot take it (interpreter shutting down, threads unavailable)."""
    try:
        return _worker().submit(fn, *args)
    except RuntimeError:
        return None


def both(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """``(first(), second())``, ``second`` on the worker while ``first`` runs here. An exception
    from either is raised here, after both are done."""
    future = start(second)
    if future is None:
        return first(), second()
    try:
        a = first()
    finally:
        b = future.result()  # wait even when first() raised: never leave work behind
    return a, b
