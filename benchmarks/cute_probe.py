"""Which suite families does Helion's ``cute`` backend run on this GPU? (issue #7, step 1)

    python benchmarks/cute_probe.py --out DIR [--families F,...] [--time-budget-s 300]

Per family (one GPU shape each, the smallest of its list): bind the kernel with
``backend="cute"``, record KernelFacts + HardwareFacts (the cute backend does not bind on CPU, so
the facts CPU tests use for the cute adapter must come from here), the config spec's size and
which Helion cute heuristics fired, then compile and run Helion's default config and check it
against the torch reference. One JSON line per family in ``DIR/cute_probe.jsonl`` (written as
each finishes; a rerun skips finished families), with the error and traceback tail on failure.

Needs nvidia-cutlass-dsl 4.7.0 (+ nvidia-cutlass-dsl-libs-base/-cu13, apache-tvm-ffi) importable
and torch built with CUDA >= 13; on CPU every family records ``CuteBackendUnavailable``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def smallest_shape(shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    return min(shapes, key=lambda s: (math.prod(s), s))


def probe(family: str, out: dict[str, Any]) -> dict[str, Any]:
    """Fill ``out`` stage by stage (so a failure row still says how far it got)."""
    import helion
    import torch
    from helion._compiler import autotuner_heuristics as ah

    from helion_learned.features.facts import facts_from_env
    from helion_learned.features.hardware import from_device
    from helion_learned.training.suite.registry import SUITE

    sk = SUITE[family]
    shape = smallest_shape(sk.shapes)
    out.update({"family": family, "shape": list(shape), "dtype": str(sk.dtype),
                "stage": "args"})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    args = sk.make_args(shape, sk.dtype, device)
    settings = sk.kernel.settings.to_dict()
    settings.update(backend="cute", autotune_effort="none")
    kernel = helion.kernel(sk.kernel.fn, **settings)
    out["stage"] = "bind"
    t0 = time.perf_counter()
    bound = kernel.bind(args)
    out["bind_s"] = round(time.perf_counter() - t0, 3)
    env = bound.env
    cs = env.config_spec
    values = dict(zip(kernel.signature.parameters, args, strict=False))
    out["stage"] = "facts"
    with env, env.use_runtime_arg_values(values):
        facts = facts_from_env(env, bound.host_function.device_ir)
    out["facts"] = facts.to_dict() if hasattr(facts, "to_dict") else None
    if device == "cuda":
        hw = from_device(torch.device(device))
        out["hardware_facts"] = hw.to_dict() if hasattr(hw, "to_dict") else None
    out["cute_heuristics_registered"] = [h.name for h in ah.get_heuristics("cute")]
    out["heuristics_fired"] = list(getattr(cs, "autotuner_heuristics", []))
    out["n_block_sizes"] = len(cs.block_sizes)
    out["stage"] = "compile"
    config = cs.default_config()
    out["default_config"] = dict(config.config)
    fn = bound.compile_config(config, allow_print=False)
    out["stage"] = "run"
    got = fn(*args)
    out["stage"] = "check"
    torch.testing.assert_close(got, sk.reference(*args), rtol=sk.rtol, atol=sk.atol)
    out["stage"] = "ok"
    return out


def main(argv: list[str] | None = None) -> int:
    from helion_learned.training.suite.registry import SUITE

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--families", help="comma list (default: every suite family)")
    p.add_argument("--time-budget-s", type=float, default=300.0)
    ns = p.parse_args(argv)
    ns.out.mkdir(parents=True, exist_ok=True)
    path = ns.out / "cute_probe.jsonl"
    done = set()
    if path.exists():
        done = {json.loads(line)["family"] for line in path.read_text().splitlines() if line}
    families = ns.families.split(",") if ns.families else list(SUITE)
    deadline = time.time() + ns.time_budget_s
    for family in families:
        if family in done:
            continue
        if time.time() > deadline:
            print(f"[cute_probe] time budget spent; {family} and later not probed", flush=True)
            break
        t0 = time.time()
        row: dict[str, Any] = {"family": family}
        try:
            probe(family, row)
        except Exception as e:  # the point is to record what fails, and where
            row.update({"failed_at": row.get("stage"), "stage": "failed",
                        "error": f"{type(e).__name__}: {e}"[:2000],
                        "traceback": traceback.format_exc()[-4000:]})
        row["elapsed_s"] = round(time.time() - t0, 2)
        with open(path, "a") as f:
            f.write(json.dumps(row, default=str) + "\n")
        print(f"[cute_probe] {family}: {row['stage']} {row.get('error', '')[:200]} "
              f"({row['elapsed_s']}s)", flush=True)
    return 0


if __name__ == "__main__":  # Helion may spawn workers: keep all work under this guard
    raise SystemExit(main())
