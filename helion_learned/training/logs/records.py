"""The workloads Helion's logs describe: one :class:`Workload` per run_id, its :class:`Measurement`
per config, and the :class:`LogSet` a load returns (read by :mod:`.loader`)."""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import Any

from ...features.facts import KernelFacts
from ...features.hardware import HardwareFacts
from . import parsing as lp


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Everything the logs say about one config of one workload."""

    config_id: str
    config: dict[str, Any]
    status: str  # "ok" if any measurement was ok, else the most common failure status
    perf_ms: float | None  # median of the ok perf_ms values; None when not ok
    n_measurements: int  # CSV rows (not `started`) behind this measurement
    first_seen: str  # "path/to/file.csv:LINE"


@dataclasses.dataclass
class Workload:
    """One Helion run_id: a kernel on given shapes, dtypes, settings and hardware."""

    run_id: str
    kernel_name: str
    input_shapes: str
    dtypes: str
    hardware: str
    settings: dict[str, Any] | None
    facts: KernelFacts | None
    hardware_facts: HardwareFacts | None
    measurements: list[Measurement]
    sources: list[str]

    @property
    def best_perf_ms(self) -> float | None:
        perfs = [m.perf_ms for m in self.measurements if m.perf_ms is not None]
        return min(perfs) if perfs else None

    @property
    def n_ok(self) -> int:
        return sum(1 for m in self.measurements if m.status == lp.OK_STATUS)

    @property
    def key(self) -> str:
        return workload_key(self.kernel_name, self.input_shapes, self.dtypes, self.hardware)


@dataclasses.dataclass
class LogSet:
    workloads: list[Workload]
    skipped: collections.Counter[str]
    files: list[Path]

    def by_run_id(self) -> dict[str, Workload]:
        return {w.run_id: w for w in self.workloads}


def workload_key(kernel_name: str, input_shapes: str, dtypes: str, hardware: str) -> str:
    """Readable key of a workload without source/settings (e.g. for grouped CV splits)."""
    return f"{kernel_name}|{input_shapes}|{dtypes}|{hardware}"
