"""Bind-time scoring with the expert on a helper thread: the same numbers, errors still raised."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from helion_learned.models import overlap
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.bundle import shipped_bundles


def test_both_runs_the_second_call_on_the_worker() -> None:
    main = threading.get_ident()
    a, b = overlap.both(threading.get_ident, threading.get_ident)
    assert a == main and b != main


def test_both_raises_either_error_after_both_ran() -> None:
    ran: list[str] = []

    def fail() -> None:
        ran.append("second")
        raise ValueError("second failed")

    with pytest.raises(ValueError, match="second failed"):
        overlap.both(lambda: ran.append("first"), fail)
    assert sorted(ran) == ["first", "second"]

    def fail_first() -> None:
        raise KeyError("first failed")

    with pytest.raises(KeyError):
        overlap.both(fail_first, lambda: ran.append("after"))
    assert ran[-1] == "after"  # the worker's call finished before the error left


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_worker() -> None:
    overlap.both(lambda: 1, lambda: 2)  # the parent's worker exists
    pid = os.fork()
    if pid == 0:  # child: must not wait on the parent's (absent) thread
        try:
            ok = overlap.both(lambda: 1, lambda: 2) == (1, 2)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture(scope="module")
def shipped() -> ModelBundle:
    paths = [p for p in shipped_bundles("triton") if (Path(p) / "experts").is_dir()]
    if not paths:
        pytest.skip("no shipped bundle with experts")
    return ModelBundle.load(paths[0])


@pytest.mark.parametrize("rows", [0, 1, 63, 64, 400])
def test_overlapped_scores_are_bit_identical(shipped: ModelBundle, rows: int) -> None:
    assert shipped.experts is not None
    rng = np.random.default_rng(rows)
    X = rng.normal(size=(rows, shipped.model.n_features_in_)).astype(np.float32)
    X[:, ::7] = np.nan
    for key in [*sorted(shipped.experts.models_)[:2], "unknown/other/00000000", None]:
        plain = shipped.score(X, key)
        fast = shipped.score(X, key, overlap=True)
        assert plain.dtype == fast.dtype == np.float64
        assert plain.tobytes() == fast.tobytes()
        if key is not None and key in shipped.experts.models_ and rows:
            # The same formula as before: blend() of the global scores.
            base = shipped.model.score(X)
            assert shipped.experts.blend(key, X, base).tobytes() == plain.tobytes()
