"""Planning for the collector: workload keys, resume state, ordering, sharding, autotune subset.

A workload is one suite family at one shape, on one piece of hardware. It is "done" once its facts
record (``<base>.facts.jsonl``, with a ``workload`` section) exists anywhere under the output or a
``--resume-from`` folder, or once it is listed in ``failures.jsonl`` (so a config that kills the
GPU context is not retried forever). A facts record whose finite search was cut by the deadline
(``finite.truncated``; only older collectors kept those) does not count as done.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import hashlib
import json
import math
import random
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..jsonl import iter_jsonl

FAILURES_FILE = "failures.jsonl"
CONTROL_FILE = "control.jsonl"


@dataclasses.dataclass(frozen=True)
class WorkItem:
    family: str
    shape: tuple[int, ...]
    dtype: str  # str(torch.dtype) the workload runs with, e.g. "torch.bfloat16"
    autotune: bool = False  # also run a real Helion autotune (--autotune-effort) on it
    backend: str = "triton"  # Helion backend the kernel is compiled with

    def key(self, hardware: str) -> str:
        return workload_key(self.family, self.shape, self.dtype, hardware, self.backend)

    def seed(self, base_seed: int) -> int:
        """Per-workload seed: stable across runs and machines, different per workload."""
        text = f"{base_seed}|{self.family}|{list(self.shape)}|{self.dtype}"
        return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "shape": list(self.shape), "dtype": self.dtype,
                "autotune": self.autotune, "backend": self.backend}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkItem:
        return cls(str(d["family"]), tuple(int(s) for s in d["shape"]), str(d["dtype"]),
                   bool(d.get("autotune", False)), str(d.get("backend", "triton")))


def workload_key(family: str, shape: Iterable[int], dtype: str, hardware: str,
                 backend: str = "triton") -> str:
    key = [family, [int(s) for s in shape], dtype, hardware]
    # triton keys keep their original form: records written before backends existed resume.
    return json.dumps(key if backend == "triton" else [*key, backend])


# -- resume -------------------------------------------------------------------------------------
def _workload_files(folder: Path) -> Iterator[Path]:
    # Ingested folders hold failures.jsonl.gz (scripts/ingest_round.py gzips every sidecar).
    for pattern in ("*.facts.jsonl", "*.facts.jsonl.gz", FAILURES_FILE, f"{FAILURES_FILE}.gz"):
        yield from sorted(folder.rglob(pattern))


def is_failures_file(path: Path) -> bool:
    return path.name in (FAILURES_FILE, f"{FAILURES_FILE}.gz")


def read_done(folders: Iterable[str | Path], *, include_failures: bool = True) -> set[str]:
    """Keys of workloads already collected (or failed) under any of ``folders`` (recursive)."""
    done: set[str] = set()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in _workload_files(folder):
            is_failure = is_failures_file(path)
            if is_failure and not include_failures:
                continue
            for _, record in iter_jsonl(path, strict=False):
                w = record.get("workload")
                if not isinstance(w, dict):
                    continue  # a facts record written by install() at bind time, not by us
                if not is_failure and (w.get("finite") or {}).get("truncated"):
                    continue  # an older collector kept a deadline-cut search: not done
                try:
                    done.add(workload_key(w["family"], w["shape"], w["dtype"], w["hardware"],
                                          str(w.get("backend", "triton"))))
                except (KeyError, TypeError, ValueError):
                    continue
    return done


# -- ordering and sharding ----------------------------------------------------------------------
def select_families(all_families: Iterable[str], patterns: Iterable[str] | None) -> list[str]:
    """Families matching any pattern (exact names or fnmatch globs such as ``matmul_*``)."""
    names = list(all_families)
    if not patterns:
        return names
    chosen: list[str] = []
    for pattern in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise KeyError(f"no suite family matches {pattern!r}; known: {sorted(names)}")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def over_size_cap(pair: tuple[str, tuple[int, ...]], caps: Iterable[tuple[str, float]]) -> bool:
    """Whether ``(family, shape)``'s dims multiply past the cap of a glob matching the family."""
    family, shape = pair
    product = math.prod(int(d) for d in shape)
    return any(fnmatch.fnmatchcase(family, glob) and product > cap for glob, cap in caps)


def parse_size_cap(text: str) -> tuple[str, float]:
    """``GLOB=PRODUCT`` (e.g. ``*matmul*=5e9``) → (glob, cap); errors say what was expected."""
    glob, sep, value = text.partition("=")
    try:
        cap = float(value)
    except ValueError:
        cap = float("nan")
    if not sep or not glob or not cap > 0:
        raise argparse.ArgumentTypeError(
            f"expected FAMILY_GLOB=PRODUCT such as '*matmul*=5e9', got {text!r}")
    return glob, cap


def interleave(pairs: list[tuple[str, tuple[int, ...]]], seed: int) -> list[tuple[str, tuple[int, ...]]]:
    """Round-robin over families (each family's shapes in a seeded order), so a run cut short by
    its time budget still covers every family with a spread of sizes."""
    by_family: dict[str, list[tuple[int, ...]]] = {}
    for family, shape in pairs:
        by_family.setdefault(family, []).append(shape)
    queues = []
    for family, shapes in by_family.items():
        rng = random.Random(f"{seed}|{family}")
        shapes = list(shapes)
        rng.shuffle(shapes)
        queues.append((family, shapes))
    out: list[tuple[str, tuple[int, ...]]] = []
    for i in range(max((len(s) for _, s in queues), default=0)):
        out.extend((family, shapes[i]) for family, shapes in queues if i < len(shapes))
    return out


def plan(pairs: list[tuple[str, tuple[int, ...]]], *, dtype_of: Callable[[str], str],
         hardware: str, done: set[str], max_workloads: int | None, autotune_subset: int,
         seed: int = 0, backend: str = "triton") -> tuple[list[WorkItem], int]:
    """Pending work items in collection order, and how many were skipped as already done."""
    items: list[WorkItem] = []
    skipped = 0
    for family, shape in interleave(pairs, seed):
        item = WorkItem(family, tuple(shape), dtype_of(family), backend=backend)
        if item.key(hardware) in done:
            skipped += 1
            continue
        items.append(item)
    if max_workloads is not None:
        items = items[:max_workloads]
    chosen = autotune_indices(len(items), autotune_subset)
    items = [dataclasses.replace(it, autotune=i in chosen) for i, it in enumerate(items)]
    return items, skipped


def autotune_indices(n: int, k: int) -> set[int]:
    """``k`` indices spread evenly over ``range(n)`` (deterministic)."""
    k = max(0, min(k, n))
    return {(i * n) // k for i in range(k)} if k else set()


def shard(items: list[WorkItem], n_shards: int) -> list[list[WorkItem]]:
    return [items[i::n_shards] for i in range(n_shards)]


def save_items(path: Path, items: list[WorkItem]) -> None:
    path.write_text(json.dumps([it.to_dict() for it in items]), encoding="utf-8")


def load_items(path: Path) -> list[WorkItem]:
    return [WorkItem.from_dict(d) for d in json.loads(path.read_text(encoding="utf-8"))]
