"""``--devices``: child processes per GPU (``CUDA_VISIBLE_DEVICES`` set per child), under a
watchdog in the parent. ``--procs-per-device K`` > 1 runs K children per GPU that share a lock
file, so their CPU-bound code generation overlaps while their timings never do
(:mod:`.gpu_lock`).

A child that dies (a fatal CUDA error poisons its context) or hangs on one workload is killed if
needed and restarted; that workload is recorded in ``failures.jsonl`` (with the config it was
measuring) so it is not retried blindly. A child still running ``GRACE_S`` after the deadline is
killed, so the parent ends well within ``--time-budget-s`` + 30 s. Whenever a child is killed or
dies mid-workload, the parent rolls that workload's files back (:mod:`.files`): no CSV
rows without their facts record are left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import files
from . import plan as cp
from .gpu_lock import LOCK_ENV
from .options import GRACE_S
from .options import RESTART_EXIT_CODE
from .options import Options
from .options import env
from .options import hardware_name
from .options import measure_env
from .options import plan_items
from .options import read_done


def child_args(opts: Options, jobs: int) -> list[str]:
    args = ["--out", str(opts.out), "--random", str(opts.n_random), "--grid", str(opts.n_grid),
            "--autotune-budget-s", str(opts.autotune_budget_s),
            "--autotune-effort", opts.autotune_effort,
            "--control-every", str(opts.control_every), "--target", opts.target,
            "--seed", str(opts.seed), "--precompile", opts.precompile,
            "--precompile-jobs", str(jobs), "--backend", opts.backend, "--timing", opts.timing,
            # Not used by a child, only recorded: how many processes shared its GPU.
            "--procs-per-device", str(opts.procs_per_device)]
    if opts.benchmark_subprocess:
        args.append("--benchmark-subprocess")
    if opts.cpu_interpret:
        args.append("--cpu-interpret")
    if opts.retry_failed:
        args.append("--retry-failed")
    if opts.resume_from:
        args += ["--resume-from", *map(str, opts.resume_from)]
    if opts.replay is not None:
        args += ["--replay", str(opts.replay)]
    return args


def _package_root() -> str:
    # So `python -m helion_learned...` resolves in the child even when run from another cwd.
    return str(Path(__file__).resolve().parents[2])


def physical_gpus(devices: list[int]) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` values for child processes: ``--devices`` indexes the GPUs this
    process sees, so map them through an inherited ``CUDA_VISIBLE_DEVICES``."""
    visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return [visible[d] if d < len(visible) else str(d) for d in devices]


def run_children(opts: Options, deadline: float) -> dict[str, Any]:
    devices = list(opts.devices or [])
    names = [hardware_name(opts, d) for d in devices]
    if len(set(names)) > 1:
        print(f"[collect] WARNING: mixed GPUs {names}; resume uses {names[0]!r}", file=sys.stderr)
    items, skipped = plan_items(opts, names[0])
    per_device = max(1, opts.procs_per_device)
    n_children = len(devices) * per_device
    shards = cp.shard(items, n_children)
    state = Path(tempfile.mkdtemp(prefix="helion_learned_collect_"))
    jobs = opts.precompile_jobs or max(2, (os.cpu_count() or 2) // n_children)
    base_args = child_args(opts, jobs)
    physical = physical_gpus(devices)

    def spawn(i: int) -> subprocess.Popen[bytes]:
        plan_file = state / f"shard{i}.plan.json"
        cp.save_items(plan_file, shards[i])
        gpu = physical[i % len(devices)]  # child i -> GPU i mod n: neighbours differ in GPU
        cmd = [sys.executable, "-m", "helion_learned.training.collect", *base_args,
               "--_worker-plan", str(plan_file), "--_shard-index", str(i),
               "--_deadline", str(deadline), "--_state-dir", str(state)]
        child_env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu, "PYTHONUNBUFFERED": "1",
                     "PYTHONPATH": os.pathsep.join(filter(None, [_package_root(),
                                                                 os.environ.get("PYTHONPATH")]))}
        child_env.pop(LOCK_ENV, None)
        if per_device > 1:
            child_env[LOCK_ENV] = str(state / f"gpu{gpu}.lock")
        return subprocess.Popen(cmd, env=child_env, start_new_session=True)  # own group: killable

    procs = {i: spawn(i) for i in range(n_children) if shards[i]}
    restarts: Counter[int] = Counter()
    try:
        _watch(opts, deadline, state, procs, spawn, restarts)
    finally:
        for i, proc in procs.items():  # only on an exception (e.g. Ctrl-C) are any left
            kill_tree(proc)
            _read_marker(state, i, rollback=True)
    summaries = [json.loads(p.read_text()) for p in sorted(state.glob("shard*.summary.*.json"))]
    shutil.rmtree(state, ignore_errors=True)
    return {"devices": devices, "procs_per_device": per_device, "hardware": names,
            "planned": len(items), "skipped_done": skipped,
            "done": sum(s["done"] for s in summaries), "failed": sum(s["failed"] for s in summaries),
            "discarded": sum(len(s.get("discarded", [])) for s in summaries),
            "run_id_mismatches": sum(s["run_id_mismatches"] for s in summaries),
            "autotuned": sum(s["autotuned"] for s in summaries), "restarts": dict(restarts),
            "shards": summaries, "fatal": False}


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (Linux /proc; empty elsewhere). Helion's precompile
    children can sit in sessions of their own, out of reach of ``killpg``: an orphaned one kept
    a collector call's output pipe open for minutes on the H100 machine."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    tree = descendants(proc.pid)  # before the kill: orphans get re-parented and vanish from it
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def _read_marker(state: Path, shard: int, *, rollback: bool = False) -> dict[str, Any] | None:
    """The workload a child marked as running (None: between workloads). With ``rollback``
    (only once that child is dead), also remove the marker and roll the workload's files back."""
    marker = state / f"shard{shard}.current.json"
    try:
        current = json.loads(marker.read_text()) if marker.exists() else None
    except (OSError, json.JSONDecodeError):
        current = None
    if rollback and current is not None:
        current["unfinished_config"] = files.unfinished_config(current.get("files") or {})
        files.rollback(current.get("files") or {})
        marker.unlink(missing_ok=True)
    return current


def _watch(opts: Options, deadline: float, state: Path, procs: dict[int, Any],
           spawn: Callable[[int], Any], restarts: Counter[int]) -> None:
    """Wait for the children; restart one that died or hung mid-workload (and record that
    workload as failed so it is not retried blindly)."""
    while procs:
        time.sleep(1.0)
        for i, proc in list(procs.items()):
            rc = proc.poll()
            if rc is None:
                if time.time() > deadline + GRACE_S:
                    kill_tree(proc)  # past the budget: the running workload is simply redone later
                    _read_marker(state, i, rollback=True)
                    print(f"[collect] shard{i} still running {GRACE_S:.0f}s after the deadline: "
                          f"killed", flush=True)
                    del procs[i]
                    continue
                current = _read_marker(state, i)
                limit = opts.workload_timeout_s + (
                    opts.autotune_budget_s if current and current["item"]["autotune"] else 0)
                if not (current and time.time() - current["start"] > limit):
                    continue
                kill_tree(proc)
                rc = -9
                reason = f"watchdog: no progress for {limit:.0f}s"
            else:
                reason = f"child exited with {rc} while measuring it"
            current = _read_marker(state, i, rollback=True)  # the child is dead now
            if current is not None:  # it died mid-workload: never retry that one blindly
                files.record_failure(opts.out, cp.WorkItem.from_dict(current["item"]),
                                     current["hardware"], reason, i,
                                     unfinished_config=current["unfinished_config"])
            if rc != 0 and time.time() < deadline - 60 and restarts[i] < 20:
                restarts[i] += 1
                print(f"[collect] restarting shard{i} (rc {rc})", flush=True)
                procs[i] = spawn(i)
            else:
                del procs[i]


def run_child(opts: Options, plan_file: Path, shard_index: int, deadline: float,
              state_dir: Path | None) -> int:
    """Entry point of one --devices child: measure the items of its plan not done yet."""
    from .worker import Worker

    hardware = hardware_name(opts, None)
    done = read_done(opts)
    items = [it for it in cp.load_items(plan_file) if it.key(hardware) not in done]
    with env(**measure_env(opts)):
        summary = Worker(opts, shard_index, deadline, state_dir).run(items)
    if state_dir is not None:
        path = state_dir / f"shard{shard_index}.summary.{os.getpid()}.json"
        path.write_text(json.dumps(summary))
    print(json.dumps(summary, sort_keys=True), flush=True)
    return RESTART_EXIT_CODE if summary["fatal"] else 0
