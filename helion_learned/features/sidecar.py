"""The facts sidecar: ``<base>.facts.jsonl`` next to Helion's ``<base>.csv`` / ``<base>.meta.jsonl``.

One JSON object per line, keyed by Helion's own ``run_id`` (recomputed here exactly as
``helion.autotuner.metrics.KernelMetadata.run_id`` does), so training joins the three files with no
guessing. Written at bind time by the installed library whenever Helion's autotune logging is on,
and by the collector.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .facts import KernelFacts
from .hardware import HardwareFacts

SIDECAR_SUFFIX = ".facts.jsonl"
SIDECAR_SCHEMA = "helion_learned.facts/1"


def helion_run_id(*, kernel_source: str, settings: dict[str, Any] | None, input_shapes: str,
                  dtypes: str, hardware: str) -> str:
    """Helion's workload id (the CSV's ``run_id``), computed with Helion's own signature code."""
    from helion.autotuner.metrics import _codegen_signature

    payload = (f"{kernel_source}\x00{_codegen_signature(settings)}\x00"
               f"{input_shapes}\x00{dtypes}\x00{hardware}")
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def shapes_and_dtypes(args: Any) -> tuple[str, str]:
    """``input_shapes`` / ``dtypes`` strings exactly as Helion's autotuner logs them."""
    import torch

    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return str([tuple(t.shape) for t in tensors]), str([str(t.dtype) for t in tensors])


def sidecar_path(log_base: str | os.PathLike[str]) -> Path:
    # Same derivation as Helion's AutotuneLogSink (``base.with_suffix(".csv")`` etc.), so that
    # HELION_AUTOTUNE_LOG=runs/h100.v2 gives runs/h100.csv beside runs/h100.facts.jsonl.
    return Path(log_base).with_suffix(SIDECAR_SUFFIX)


def make_record(*, run_id: str, kernel_name: str, input_shapes: str, dtypes: str, hardware: str,
                facts: KernelFacts, hardware_facts: HardwareFacts | None) -> dict[str, Any]:
    return {
        "schema": SIDECAR_SCHEMA,
        "run_id": run_id,
        "kernel_name": kernel_name,
        "input_shapes": input_shapes,
        "dtypes": dtypes,
        "hardware": hardware,
        "hardware_facts": hardware_facts.to_dict() if hardware_facts is not None else None,
        "facts": facts.to_dict(),
    }


def append_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one record as a single ``write`` of a whole line (O_APPEND keeps lines whole)."""
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
