"""SYNTHETIC Helion-format logs for the scale benchmark (``scale_ingest_train.py``, step 1).

Kernel facts are REAL (suite kernels bound on CPU, then shapes and size hints varied and the
hardware rotated); configs come from Helion's default config plus our grid and random draws; the
**timings are SYNTHETIC** (a smooth made-up function of the config times log-normal noise, with
~14 % failures). Never a measurement: every output says so.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRITON_INTERPRET", "1")  # kernels bind on CPU for their facts

SYNTHETIC_NOTE = ("SYNTHETIC data: real KernelFacts of suite kernels bound on CPU, shapes varied, "
                  "made-up timings; measures ingestion/training cost, never model quality")
# (suite family, base kernel kind) bound once on CPU for real facts and Helion's default config.
BASE_FAMILIES = ("add_fp32", "gelu_bf16", "softmax_bf16", "layer_norm_bf16", "rms_norm_bf16",
                 "cross_entropy_bf16", "matmul_fp16", "matmul_bf16", "bmm_bf16",
                 "matmul_bias_relu_fp16")
HARDWARE = ("h100", "h200", "a100", "b200")
EXTENTS = (1, 2, 4, 8, 16, 32, 64, 96, 128, 256, 384, 512, 768, 1000, 1024, 1536, 2048, 3072,
           4096, 5120, 8192, 11008, 14336, 16384, 32000)
CONFIGS_PER_WORKLOAD = 125
CSV_HEADER = ("run_id", "timestamp_s", "config_id", "generation", "status", "perf_ms",
              "compile_time_s", "config")  # Helion's exact header
FAIL_SHARE = 0.01  # random failures on top of the deterministic "too big" ones


# -- generation ----------------------------------------------------------------------------------


def _next_pow2(n: int) -> int:
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def _bind_bases(families: tuple[str, ...]) -> list[dict[str, Any]]:
    """Bind each suite kernel once on CPU: real facts + Helion's full default config."""
    import torch

    from helion_learned.features.facts import facts_from_env
    from helion_learned.training.suite.registry import SUITE

    bases = []
    for family in families:
        sk = SUITE[family]
        dtype = torch.float16 if sk.dtype == torch.bfloat16 else sk.dtype  # CPU-friendly
        bound = sk.kernel.bind(sk.make_args(sk.tiny_shapes[0], dtype, "cpu"))
        with bound.env:
            facts = facts_from_env(bound.env, bound.host_function.device_ir)
        default = dict(bound.env.config_spec.default_config().config)
        bases.append({"family": family, "facts": facts.to_dict(), "default": default,
                      "dtype": str(sk.dtype), "source": sk.kernel.fn.__name__})
    return bases


def _scaled_facts(base: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], list[int]]:
    """The base kernel's facts with every block extent redrawn (and the dependent facts updated)."""
    facts = json.loads(json.dumps(base["facts"]))
    old_numel = math.prod(max(b["size_hint"], 1) for b in facts["blocks"])
    extents = []
    for b in facts["blocks"]:
        if b["max_size"] < _next_pow2(b["size_hint"]):  # a capped axis (batch of a bmm): keep cap
            new = rng.choice((1, 2, 4, 8, 16, 32))
        else:
            new = rng.choice(EXTENTS[4:] if b["role"] in ("m", "n", "k") else EXTENTS)
            b["max_size"] = max(_next_pow2(new), b["min_size"])
        b["size_hint"] = new
        extents.append(new)
    if facts["reduction_loop_extents"]:
        red = rng.choice(EXTENTS[6:])
        facts["reduction_loop_extents"] = [red] * len(facts["reduction_loop_extents"])
        for r in facts["reductions"]:
            r["size_hint"] = red
        extents.append(red)
    roles = {b["role"]: b["size_hint"] for b in facts["blocks"]}
    for mm in facts["matmuls"]:
        mm.update(m=roles.get("m"), n=roles.get("n"), k=roles.get("k"))
    if facts["pointwise"]:
        grid = [b["size_hint"] for b in facts["blocks"] if b["block_id"] in facts["grid_block_ids"]]
        facts["pointwise"]["total_numel"] = math.prod(grid)
    ratio = math.prod(extents) / max(old_numel, 1)
    for key in ("load_bytes", "store_bytes"):
        facts["memory"][key] = int(max(facts["memory"].get(key) or 0, 1) * ratio)
    facts["inputs"] = []  # bind-time tensor list of the tiny shapes no longer applies
    return facts, extents


def _random_config(facts: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Like Helion's random search: any power-of-two block sizes within the allowed range."""
    sizes = []
    for b in facts["blocks"]:
        lo, hi = max(b["min_size"], 1), max(min(b["max_size"], 1024), 1)
        choices = [1 << i for i in range(11) if lo <= (1 << i) <= hi] or [_next_pow2(lo)]
        sizes.append(rng.choice(choices))
    cfg: dict[str, Any] = {"block_sizes": sizes, "num_warps": rng.choice((1, 2, 4, 8, 16)),
                           "num_stages": rng.choice((1, 2, 3, 4, 5))}
    if facts["num_reduction_loops"]:
        cfg["reduction_loops"] = [rng.choice((None, 32, 64, 128, 256, 512, 1024))] + (
            [None] * (facts["num_reduction_loops"] - 1))
    if facts["num_l2_groupings"]:
        cfg["l2_groupings"] = [rng.choice((1, 2, 4, 8, 16, 32, 64))] * facts["num_l2_groupings"]
    return cfg


def _workload_configs(facts: dict[str, Any], default: dict[str, Any], n: int,
                      rng: random.Random, seed: int) -> list[dict[str, Any]]:
    from helion_learned.features.facts import KernelFacts
    from helion_learned.models.candidates import structured_grid

    partials = structured_grid(KernelFacts.from_dict(facts), limit=n // 2, seed=seed)
    seen = {json.dumps(p, sort_keys=True) for p in partials}
    tries = 0
    while len(partials) < n and tries < 20 * n:
        tries += 1
        p = _random_config(facts, rng)
        key = json.dumps(p, sort_keys=True)
        if key not in seen:
            seen.add(key)
            partials.append(p)
    configs = []
    pid_types = facts["allowed_pid_types"]
    for p in partials[:n]:
        cfg = {**default, **p}
        if rng.random() < 0.2:
            cfg["pid_type"] = rng.choice(pid_types)
        configs.append(cfg)
    return configs


def _config_repr(cfg: dict[str, Any]) -> str:
    return "Config(" + ", ".join(f"{k}={v!r}" for k, v in sorted(cfg.items())) + ")"


def _synthetic_ms(facts: dict[str, Any], hw: Any, cfg: dict[str, Any], pref: dict[str, float],
                  rng: random.Random) -> float | None:
    """SYNTHETIC timing: memory time × smooth penalties around the workload's preferences."""
    total_bytes = (facts["memory"]["load_bytes"] or 0) + (facts["memory"]["store_bytes"] or 0)
    base = max(total_bytes / (hw.mem_bw_tbs * 1e9), 2e-3)  # ms
    for mm in facts["matmuls"]:
        base += 2.0 * mm["m"] * mm["n"] * mm["k"] / (hw.sm_count * 7.5e9)
    penalty = 0.0
    tile = 1
    for b, size in zip(facts["blocks"], cfg["block_sizes"], strict=False):
        want = min(pref["tile"], math.log2(_next_pow2(b["size_hint"])))
        penalty += 0.08 * (math.log2(size) - want) ** 2
        tile *= size
    penalty += 0.15 * (math.log2(cfg["num_warps"]) - pref["warps"]) ** 2
    penalty += 0.05 * (cfg["num_stages"] - pref["stages"]) ** 2
    penalty += 0.1 * (cfg.get("pid_type", "flat") != "flat")
    red = (cfg.get("reduction_loops") or [None])[0]
    if red is not None:
        penalty += 0.05 * (math.log2(red) - pref["red"]) ** 2
    if tile * cfg["num_stages"] > (1 << 18) * pref["tolerance"]:
        return None  # "does not compile": too big a tile for this GPU
    if rng.random() < FAIL_SHARE:
        return None
    return base * math.exp(penalty) * math.exp(rng.gauss(0.0, 0.04))


def _preferences(extents: list[int], hw: Any, rng: random.Random) -> dict[str, float]:
    """SYNTHETIC per-workload optimum: mostly a function of size and GPU, partly noise."""
    size = math.log2(max(math.prod(extents), 1))
    newer = hw.compute_capability[0] >= 9
    return {"tile": min(max(size / 3.0, 4.0), 8.0) + rng.uniform(-0.5, 0.5),
            "warps": min(max(size / 8.0, 1.0), 3.5) + rng.uniform(-0.3, 0.3),
            "stages": (3.0 if newer else 2.0) + rng.uniform(-0.5, 0.5),
            "red": min(max(size / 2.5, 6.0), 10.0), "tolerance": hw.smem_per_block_kb / 64.0}


def generate(out_dir: Path, rows: int, *, gzip_files: bool = False, seed: int = 0,
             configs_per_workload: int = CONFIGS_PER_WORKLOAD, n_bases: int = 1,
             families: tuple[str, ...] = BASE_FAMILIES) -> dict[str, Any]:
    """Write ``rows`` result rows as ``n_bases`` log bases ``out_dir/synthetic[-KK]``, each with
    ``.csv`` + ``.meta.jsonl`` + ``.facts.jsonl`` (``.gz`` with ``gzip_files``)."""
    from helion_learned.training.logs.parsing import CSV_FIELDS

    assert CSV_HEADER == CSV_FIELDS, (CSV_HEADER, CSV_FIELDS)
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    bases = _bind_bases(families)
    bind_s = time.perf_counter() - start
    suffix = ".gz" if gzip_files else ""
    names = ["synthetic"] if n_bases == 1 else [f"synthetic-{k:02d}" for k in range(n_bases)]
    paths = {name: {kind: out_dir / f"{name}{ext}{suffix}" for kind, ext in
                    (("csv", ".csv"), ("meta", ".meta.jsonl"), ("facts", ".facts.jsonl"))}
             for name in names}

    def opener(path: Path) -> Any:
        if gzip_files:
            return gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1)
        return open(path, "w", encoding="utf-8", newline="")

    stats = {"written": 0, "workloads": 0, "failed": 0, "csv_lines": 0}
    with contextlib.ExitStack() as stack:
        handles = {name: {kind: stack.enter_context(opener(path)) for kind, path in kinds.items()}
                   for name, kinds in paths.items()}
        for h in handles.values():
            h["csv"].write(",".join(CSV_HEADER) + "\n")
            stats["csv_lines"] += 1
        _write_workloads(handles, names, bases, rows, configs_per_workload, rng, stats)
    files = [str(p) for kinds in paths.values() for p in kinds.values()]
    return {"rows": stats["written"], "csv_lines": stats["csv_lines"],
            "workloads": stats["workloads"], "failed_rows": stats["failed"],
            "log_bases": n_bases, "base_families": list(families), "gzip": gzip_files,
            "files": files, "bytes": sum(Path(f).stat().st_size for f in files),
            "bind_seconds": round(bind_s, 2), "seconds": round(time.perf_counter() - start, 2)}


def _write_workloads(handles: dict[str, dict[str, Any]], names: list[str],
                     bases: list[dict[str, Any]], rows: int, configs_per_workload: int,
                     rng: random.Random, stats: dict[str, int]) -> None:
    from helion_learned.features.hardware import PRESETS
    from helion_learned.features.sidecar import SIDECAR_SCHEMA

    seen_ids: set[str] = set()
    clock = 0.0
    while stats["written"] < rows:
        written, n_workloads = stats["written"], stats["workloads"]
        out = handles[names[written * len(names) // rows]]  # consecutive blocks of workloads
        base = bases[n_workloads % len(bases)]
        hw = PRESETS[HARDWARE[(n_workloads // len(bases)) % len(HARDWARE)]]
        facts, extents = _scaled_facts(base, rng)
        shapes = str([tuple(extents)])
        dtypes = str([base["dtype"]])
        run_id = hashlib.sha256(f"{base['family']}\0{shapes}\0{dtypes}\0{hw.name}".encode()
                                ).hexdigest()
        if run_id in seen_ids:
            continue  # the same shapes drawn twice: draw again
        seen_ids.add(run_id)
        n = min(configs_per_workload, rows - written)
        if rows - written - n == 1:
            n -= 1  # never leave a one-config remainder (a workload needs 2+ configs)
        # A few spare configs: identical full configs collapse into one config_id below.
        configs = _workload_configs(facts, base["default"], n + 4, rng, seed=n_workloads)
        if len(configs) < 2:
            if rows - written < 2:
                break  # cannot place a last lone row
            continue
        pref = _preferences(extents, hw, rng)
        ids = {}
        for cfg in configs:
            text = _config_repr(cfg)
            ids[hashlib.sha256(text.encode()).hexdigest()[:16]] = (cfg, text)
            if len(ids) == n:
                break
        meta = {"run_id": run_id, "kernel_name": base["source"],
                "kernel_source": f"# SYNTHETIC workload of {base['family']}\n",
                "input_shapes": shapes, "dtypes": dtypes, "hardware": hw.name,
                "settings": {"backend": "triton", "static_shapes": True,
                             "autotune_log_details": True},
                "configs": {cid: cfg for cid, (cfg, _) in ids.items()}}
        out["meta"].write(json.dumps(meta) + "\n")
        record = {"schema": SIDECAR_SCHEMA, "run_id": run_id,
                  "kernel_name": base["source"], "input_shapes": shapes, "dtypes": dtypes,
                  "hardware": hw.name, "hardware_facts": hw.to_dict(), "facts": facts,
                  "synthetic": True}
        out["facts"].write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
        lines = []
        for cid, (cfg, text) in ids.items():
            ms = _synthetic_ms(facts, hw, cfg, pref, rng)
            quoted = '"' + text.replace('"', '""') + '"'
            compile_s = f"{rng.uniform(0.1, 2.0):.2f}"
            clock += 0.05
            lines.append(f"{run_id},{clock:.2f},{cid},0,started,,{compile_s},{quoted}\n")
            clock += 0.05
            if ms is None:
                status = "timeout" if rng.random() < 0.15 else "error"
                lines.append(f"{run_id},{clock:.2f},{cid},0,{status},,{compile_s},{quoted}\n")
                stats["failed"] += 1
            else:
                lines.append(f"{run_id},{clock:.2f},{cid},0,ok,{ms:.6g},{compile_s},{quoted}\n")
        out["csv"].write("".join(lines))
        stats["csv_lines"] += len(lines)
        stats["written"] += len(ids)
        stats["workloads"] += 1
