"""Backfill the facts sidecar for Helion logs written without helion_learned installed.

Re-binds each logged kernel on CPU from an importable module, with random tensors of the logged
shapes and dtypes, and appends the KernelFacts to ``<base>.facts.jsonl`` beside the CSV. The record
is keyed by Helion's run_id recomputed from the *current* kernel source and the logged settings; a
kernel whose source changed since the log was written is skipped (its facts would not match).
"""

from __future__ import annotations

import ast
import collections
import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _kernels(modules: Sequence[str]) -> dict[str, Any]:
    import helion

    found: dict[str, Any] = {}
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, helion.Kernel):
                found.setdefault(value.name, value)
    return found


def _random_tensor(shape: tuple[int, ...], dtype_name: str, device: str) -> Any:
    import torch

    dtype = getattr(torch, dtype_name.removeprefix("torch."))
    if dtype.is_floating_point:
        return torch.randn(shape, device=device).to(dtype)
    if dtype == torch.bool:
        return torch.zeros(shape, dtype=dtype, device=device)
    return torch.randint(0, 2, shape, dtype=dtype, device=device)  # indices stay in range


def backfill_facts(paths: Sequence[str | os.PathLike[str]], modules: Sequence[str], *,
                   device: str = "cpu") -> dict[str, int]:
    """Append facts records for every workload in ``paths`` that has none. Returns counts."""
    from ...features import sidecar
    from ...features.facts import facts_from_env
    from ...features.facts import kernel_source
    from ...features.hardware import from_name
    from . import load_logs
    from .parsing import split_log_path

    kernels = _kernels(modules)
    counts: collections.Counter[str] = collections.Counter()
    for w in load_logs(paths, require_facts=False).workloads:
        if w.facts is not None:
            counts["had_facts"] += 1
            continue
        kernel = kernels.get(w.kernel_name)
        if kernel is None:
            counts["kernel_not_found"] += 1
            continue
        shapes = ast.literal_eval(w.input_shapes)
        dtypes = ast.literal_eval(w.dtypes)
        params = list(kernel.signature.parameters)
        if len(params) != len(shapes):
            counts["non_tensor_arguments"] += 1  # scalars are not logged: cannot rebuild the call
            continue
        args = tuple(_random_tensor(tuple(s), d, device) for s, d in zip(shapes, dtypes, strict=True))
        bound = kernel.bind(args)
        env = bound.env
        with env, env.use_runtime_arg_values(dict(zip(params, args, strict=True))):
            facts = facts_from_env(env, bound.host_function.device_ir)
        run_id = sidecar.helion_run_id(
            kernel_source=kernel_source(bound.host_function.device_ir) or "",
            settings=w.settings, input_shapes=w.input_shapes, dtypes=w.dtypes,
            hardware=w.hardware)
        if run_id != w.run_id:
            counts["source_or_settings_changed"] += 1
            continue
        splits = [split_log_path(Path(s.split(":")[0])) for s in w.sources]
        base = next((sp[0] for sp in splits if sp is not None and sp[1] == "csv"), None)
        if base is None:
            counts["no_csv"] += 1
            continue
        record = sidecar.make_record(run_id=run_id, kernel_name=w.kernel_name,
                                     input_shapes=w.input_shapes, dtypes=w.dtypes,
                                     hardware=w.hardware, facts=facts,
                                     hardware_facts=from_name(w.hardware or ""))
        sidecar.append_record(sidecar.sidecar_path(base), record)
        counts["written"] += 1
    return dict(counts)
