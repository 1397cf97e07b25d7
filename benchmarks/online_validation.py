"""Online validation of helion_learned on a real GPU (issue #5): seed quality on held-out shapes,
search acceleration, and (optionally) bind-time overhead.

    python benchmarks/online_validation.py --out runs/online --devices 0,1,2,3 --time-budget-s 480
    python benchmarks/online_report.py runs/online -o reports/online

Work items (one JSON line each in ``DIR/online_shard<i>.jsonl``, written right after the item
finishes; an item already in DIR is skipped, so a second call resumes):

* ``seed:<family>:<shape>`` - five configs for one held-out shape (``SuiteKernel.online_shapes``),
  timed side by side: Helion's fragment default, Helion's default with autotune off (its hand
  heuristics), the learned pick (gate open), the learned pick behind the calibrated gate, and the
  best config of a real quick Helion autotune (``--autotune-budget-s``);
* ``search:<family>:<shape>:seed<s>`` - the same quick Helion search with and without our ranked
  seeds (``--top-k``), each ``--search-budget-s``, logged with Helion's own CSV;
* ``overhead:<device>`` (``--overhead``) - benchmarks/bind_overhead.py on this device.

``--devices 0,1,2,3`` runs one child process per GPU (CUDA_VISIBLE_DEVICES set; pending items
sharded i::n). A child starts an item only while the time left before the deadline exceeds an
estimate of that item (its budget before any such item finished, then the 75th percentile of
that kind's durations); the parent kills children still running 15 s after the deadline (their
running item is simply redone by the next call). ``--cpu-interpret`` runs tiny shapes on the
Triton interpreter for tests; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GRACE_S = 15.0  # a child still running this long after the deadline is killed
FATAL_EXIT = 75  # a child whose CUDA context died: the parent restarts it on the remaining items
SEARCH_FAMILIES = ("matmul_fp16", "softmax_bf16", "layer_norm_bf16", "attention_bf16",
                   "add_bf16", "cross_entropy_bf16")
PHASES = ("overhead", "seed", "search")  # also the order of the plan


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="results directory (resumable)")
    p.add_argument("--devices", default=None, help="GPU indices, one child each, e.g. 0,1,2,3")
    p.add_argument("--time-budget-s", type=float, default=480.0)
    p.add_argument("--phases", default="seed,search",
                   help=f"comma list of {','.join(PHASES)} (default seed,search)")
    p.add_argument("--overhead", action="store_true", help="also run the overhead phase")
    p.add_argument("--families", default=None, help="seed phase families (default: all 24)")
    p.add_argument("--shapes-per-family", type=int, default=1, choices=(1, 2))
    p.add_argument("--search-families", default=",".join(SEARCH_FAMILIES))
    p.add_argument("--search-seeds", type=int, default=2)
    p.add_argument("--autotune-budget-s", type=float, default=45.0)
    p.add_argument("--search-budget-s", type=float, default=60.0)
    p.add_argument("--top-k", type=int, default=4, help="learned seeds in the seeded search arm")
    p.add_argument("--seeded-arm", choices=("install", "prior"), default="install",
                   help="the seeded search arm: Helion's LFBOTreeSearch with install()'s seeds, "
                        "or helion_learned's LearnedPriorLFBOTreeSearch (issue #30's learned "
                        "prior; 8 learned seeds and the cost-model pre-screen)")
    p.add_argument("--max-generations", type=int, default=None,
                   help="Helion autotune_max_generations for every search (default: quick's)")
    p.add_argument("--overhead-repeats", type=int, default=5)
    p.add_argument("--retry-failed", action="store_true", help="redo items recorded with an error")
    p.add_argument("--cpu-interpret", action="store_true",
                   help="tests only: TRITON_INTERPRET=1, tiny shapes, target sm90")
    for hidden in ("--_plan", "--_shard", "--_deadline", "--_jobs"):
        p.add_argument(hidden, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _split(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def make_opts(ns: argparse.Namespace) -> Any:
    from online_common import Opts

    return Opts(out=ns.out, cpu=ns.cpu_interpret, families=_split(ns.families),
                shapes_per_family=ns.shapes_per_family,
                search_families=_split(ns.search_families) or [], search_seeds=ns.search_seeds,
                autotune_budget_s=ns.autotune_budget_s, search_budget_s=ns.search_budget_s,
                top_k=ns.top_k, seeded_arm=ns.seeded_arm, max_generations=ns.max_generations,
                precompile_jobs=int(ns._jobs) if ns._jobs else None,
                overhead_repeats=ns.overhead_repeats, retry_failed=ns.retry_failed)


def plan(opts: Any, phases: list[str]) -> list[dict[str, Any]]:
    from online_common import item_shape

    from helion_learned.training.suite.registry import SUITE

    unknown = [f for f in [*(opts.families or []), *opts.search_families] if f not in SUITE]
    if unknown:
        raise SystemExit(f"unknown families {unknown}; known: {sorted(SUITE)}")
    items: list[dict[str, Any]] = []
    if "overhead" in phases:
        dev = "cpu" if opts.cpu else "gpu"
        items.append({"item": f"overhead:{dev}", "kind": "overhead"})
    if "seed" in phases:
        for family in opts.families or list(SUITE):
            n = 1 if opts.cpu else min(opts.shapes_per_family, len(SUITE[family].online_shapes))
            for j in range(n):
                shape = item_shape(SUITE[family], opts, j)
                items.append({"item": f"seed:{family}:{'x'.join(map(str, shape))}",
                              "kind": "seed", "family": family, "shape": list(shape)})
    if "search" in phases:
        for family in opts.search_families:
            shape = item_shape(SUITE[family], opts, 0)
            for seed in range(opts.search_seeds):
                items.append({"item": f"search:{family}:{'x'.join(map(str, shape))}:seed{seed}",
                              "kind": "search", "family": family, "shape": list(shape),
                              "seed": seed})
    return items


def read_done(out: Path, retry_failed: bool) -> set[str]:
    done: set[str] = set()
    for path in sorted(out.glob("online_shard*.jsonl")):
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                row = json.loads(line)
                if row.get("status") == "ok" or not retry_failed:
                    done.add(row["item"])
    return done


def first_estimate(kind: str, opts: Any) -> float:
    """Seconds one item of ``kind`` takes before any has finished: its Helion budgets plus
    binds, compiles and timing (a guess; observed durations replace it)."""
    extra = 5.0 if opts.cpu else 25.0
    return {"seed": opts.autotune_budget_s + extra, "search": 2 * opts.search_budget_s + extra,
            "overhead": extra + (10.0 if opts.cpu else 30.0)}[kind]


def estimate(kind: str, durations: dict[str, list[float]], opts: Any) -> float:
    from helion_learned.training.collect.worker import estimate as p75

    seen = durations.get(kind) or []
    return p75(seen, 5.0) if seen else first_estimate(kind, opts)


def run_shard(opts: Any, items: list[dict[str, Any]], shard: int, deadline: float) -> int:
    """Measure ``items`` in this process; append one line per finished item."""
    from online_common import run_identity
    from online_items import RUNNERS

    from helion_learned.training.collect.measure import is_fatal
    from helion_learned.training.collect.measure import release_memory

    if opts.cpu:
        from helion_learned.training.suite.interpret import apply_cpu_patches

        apply_cpu_patches()
    identity = run_identity(opts)
    done = read_done(opts.out, opts.retry_failed)
    path = opts.out / f"online_shard{shard}.jsonl"
    durations: dict[str, list[float]] = {}
    start, prefix = time.time(), f"[online shard{shard}]"
    for i, item in enumerate(items):
        if item["item"] in done:
            continue
        need, left = estimate(item["kind"], durations, opts), deadline - time.time()
        if left <= need:  # a shorter kind later in the plan may still fit
            print(f"{prefix} skip {item['item']}: {left:.0f}s left < estimate {need:.0f}s",
                  flush=True)
            continue
        t0, fatal = time.time(), False
        try:
            result, status = RUNNERS[item["kind"]](item, opts), "ok"
        except Exception as e:
            fatal = is_fatal(e)
            result, status = {"error": f"{type(e).__name__}: {e}"[:1000],
                              "traceback": traceback.format_exc()[-4000:]}, "error"
        took = time.time() - t0
        line = {**item, **identity, "status": status, "elapsed_s": round(took, 2),
                "shard": shard, "timestamp": time.time(), "pid": os.getpid(), **result}
        with open(path, "a") as f:
            f.write(json.dumps(line, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if status == "ok":
            durations.setdefault(item["kind"], []).append(took)
        print(f"{prefix} {item['item']}: {_summary(line)}; {took:.1f}s "
              f"(elapsed {time.time() - start:.0f}s, {i + 1}/{len(items)})", flush=True)
        release_memory()
        if fatal:
            print(f"{prefix} fatal device error: exiting for a restart", flush=True)
            return FATAL_EXIT
    return 0


def _summary(line: dict[str, Any]) -> str:
    if line["status"] != "ok":
        return f"FAILED {line.get('error', '')[:200]}"
    if line["kind"] == "seed":
        r = line["ratios"]
        auto = line["variants"]["autotune"]["ms"]
        return ", ".join(f"{k} {r[k]:.3f}" if r.get(k) is not None else f"{k} -" for k in r
                         if k != "autotune") + (f"; autotune {auto:.4f} ms" if auto else "")
    if line["kind"] == "search":
        sp, fr = line.get("wall_clock_speedup"), line.get("final_ratio")
        return (f"speedup to 2% {sp:.2f}x" if sp else "seeded never within 2%") + (
            f", final seeded/unseeded {fr:.3f}" if fr else "")
    o = line["overhead"]
    return f"bind x{o['bind_time_ratio']:.3f}, p99 {o['prediction_ms_p99']:.2f} ms"


def _child_argv(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--devices":
            skip = True
        elif not a.startswith("--devices="):
            out.append(a)
    return out


def run_parent(argv: list[str], opts: Any, items: list[dict[str, Any]], devices: list[int],
               deadline: float) -> int:
    """One child per GPU on items[i::n]; kill children still running GRACE_S past the deadline.

    An overhead item runs first, alone on the first GPU: bind time is CPU work, and other
    children's precompile processes would load the CPUs unevenly between its two arms.
    """
    from helion_learned.training.collect.shards import kill_tree  # + orphaned forks
    from helion_learned.training.collect.shards import physical_gpus

    state = Path(tempfile.mkdtemp(prefix="online_validation_"))
    jobs = max(2, (os.cpu_count() or 2) // len(devices))
    physical = physical_gpus(devices)
    pythonpath = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))

    def spawn(i: int, shard_items: list[dict[str, Any]]) -> subprocess.Popen[bytes]:
        plan_file = state / f"shard{i}.json"
        plan_file.write_text(json.dumps(shard_items))
        cmd = [sys.executable, str(Path(__file__).resolve()), *_child_argv(argv),
               "--_plan", str(plan_file), "--_shard", str(i), "--_deadline", str(deadline),
               "--_jobs", str(jobs)]
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": physical[i], "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": pythonpath}
        return subprocess.Popen(cmd, env=env, start_new_session=True)  # own group: killable

    alone = [it for it in items if it["kind"] == "overhead"]
    rest = [it for it in items if it["kind"] != "overhead"]
    rounds = [[alone]] if alone else []
    rounds.append([rest[i::len(devices)] for i in range(len(devices))])
    failed = 0
    for plans in rounds:
        procs = {i: spawn(i, p) for i, p in enumerate(plans) if p}
        try:
            while procs:
                time.sleep(1.0)
                for i, proc in list(procs.items()):
                    rc = proc.poll()
                    if rc is None and time.time() > deadline + GRACE_S:
                        kill_tree(proc)
                        print(f"[online] shard{i} still running {GRACE_S:.0f}s after the "
                              "deadline: killed (its running item is redone by the next call)",
                              flush=True)
                        del procs[i]
                    elif rc == FATAL_EXIT and time.time() < deadline - 60:
                        procs[i] = spawn(i, plans[i])  # finished items fail the done check
                    elif rc is not None:
                        failed += rc != 0
                        del procs[i]
        finally:
            for proc in procs.values():  # only on an exception (e.g. Ctrl-C)
                kill_tree(proc)
    return 1 if failed else 0


def _setup_environment(cpu: bool) -> None:
    # Before triton is imported anywhere: it decides interpreted vs compiled at jit time.
    os.environ["TRITON_INTERPRET"] = "1" if cpu else "0"
    os.environ["HELION_SKIP_CACHE"] = "1"  # never answer from Helion's autotune cache
    if cpu:  # the interpreter's final re-benchmark would take minutes: skip it
        os.environ.setdefault("HELION_AUTOTUNE_FINAL_REBENCHMARK_TOP_K", "0")
        os.environ.setdefault("HELION_CAP_REBENCHMARK_REPEAT", "2")
    for path in (str(HERE), str(HERE.parent)):  # online_* helpers, bind_overhead, the package
        if path not in sys.path:
            sys.path.insert(0, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = parse_args(argv)
    _setup_environment(ns.cpu_interpret)
    opts = make_opts(ns)
    opts.out.mkdir(parents=True, exist_ok=True)
    if ns._plan is not None:  # a --devices child
        items = json.loads(Path(ns._plan).read_text())
        return run_shard(opts, items, int(ns._shard), float(ns._deadline))
    phases = _split(ns.phases) or []
    if ns.overhead and "overhead" not in phases:
        phases.append("overhead")
    if bad := [p for p in phases if p not in PHASES]:
        raise SystemExit(f"unknown phases {bad}; known: {list(PHASES)}")
    deadline = time.time() + ns.time_budget_s
    all_items = plan(opts, phases)
    done = read_done(opts.out, opts.retry_failed)
    items = [it for it in all_items if it["item"] not in done]
    with open(opts.out / "commands.jsonl", "a") as f:  # the report quotes the exact commands
        f.write(json.dumps({"argv": ["python", "benchmarks/online_validation.py", *argv],
                            "timestamp": time.time(), "planned": len(all_items),
                            "pending": len(items)}) + "\n")
    print(f"[online] {len(items)} of {len(all_items)} items pending "
          f"({len(all_items) - len(items)} already in {opts.out})", flush=True)
    devices = [int(d) for d in _split(ns.devices) or []]
    if not items:
        return 0
    if devices:
        rc = run_parent(argv, opts, items, devices, deadline)
    else:
        rc = run_shard(opts, items, 0, deadline)
    left = [it["item"] for it in items if it["item"] not in read_done(opts.out, False)]
    print(f"[online] done; {len(left)} items still pending" +
          (f" (run again to resume): {left[:8]}{' ...' if len(left) > 8 else ''}" if left
           else ""), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
