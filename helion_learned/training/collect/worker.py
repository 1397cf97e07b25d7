"""One shard of the collector: measure its work items in this process, one GPU (or the CPU).

Per workload: bind a fresh copy of the kernel, compute its facts, build the config list, measure it
with Helion's ``FiniteSearch`` under Helion's logging, optionally run a real Helion autotune, then
write the origins and, last, the facts record that commits the workload (:mod:`.files`).

Stop rule: another workload starts only while the time left before the deadline (less a margin)
exceeds a robust estimate of one workload, the 75th percentile of this shard's durations so far
(at least ``MIN_ESTIMATE_S``). A workload still running at the deadline is cut by Helion's budget;
its output is then rolled back, never half kept.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import files
from . import gpu_lock
from . import plan as cp
from .configs import config_list
from .measure import finite_search
from .measure import is_fatal
from .measure import real_autotune
from .measure import release_memory
from .measure import without_learned_heuristics
from .options import COLLECTOR_VERSION
from .options import CONTROL
from .options import ESTIMATE_QUANTILE
from .options import FAULT_ENV
from .options import MARGIN_S
from .options import MIN_ESTIMATE_S
from .options import Options
from .options import hardware_name


def estimate(durations: list[float], minimum: float) -> float:
    """Robust time for the next workload: the 75th percentile (linear interpolation) of
    ``durations``, at least ``minimum``; one slow outlier does not stop the shard early."""
    if not durations:
        return minimum
    s = sorted(durations)
    pos = ESTIMATE_QUANTILE * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return max(minimum, s[lo] + (s[hi] - s[lo]) * (pos - lo))


class Worker:
    def __init__(self, opts: Options, shard_index: int, deadline: float,
                 state_dir: Path | None = None) -> None:
        import torch

        self.opts, self.shard, self.deadline, self.state_dir = opts, shard_index, deadline, state_dir
        self.cpu = opts.cpu_interpret
        if self.cpu:
            from ..suite.interpret import apply_cpu_patches

            apply_cpu_patches()
            self.device = "cpu"
        else:
            if not torch.cuda.is_available():
                raise RuntimeError("no CUDA device: pass --cpu-interpret for a CPU test run")
            self.device = f"cuda:{torch.cuda.current_device()}"
        self.hardware = hardware_name(opts, None)
        self.hw_facts = self._hardware_facts()
        self.base = files.shard_base(opts.out, shard_index)
        self.overrides: dict[str, Any] = {"pid_type": "flat"} if self.cpu else {}
        self.durations: list[float] = []  # per workload, without its real-autotune part
        self.min_estimate = MIN_ESTIMATE_S["cpu" if self.cpu else "gpu"]
        self.control_fn: Any = None
        self.log_prefix = f"[collect shard{shard_index}]"
        self.gpu_shared = gpu_lock.install()  # several processes on this GPU: take turns timing
        self.replay: dict[Any, list[dict[str, Any]]] = {}
        if opts.replay is not None:
            from .replay import load_plan

            self.replay = load_plan(opts.replay)

    def _hardware_facts(self) -> Any:
        from ...features.hardware import from_device
        from ...features.hardware import resolve_target

        if self.cpu:
            return resolve_target(self.opts.target)
        import torch

        return from_device(torch.device(self.device))

    def time_left(self) -> float:
        return self.deadline - MARGIN_S - time.time()

    def run(self, items: list[cp.WorkItem]) -> dict[str, Any]:
        start = time.time()
        done: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        discarded: list[dict[str, Any]] = []
        stop, fatal = "finished", False
        with without_learned_heuristics():
            if items:
                self._control(0)
            for i, item in enumerate(items):
                if self.time_left() <= estimate(self.durations, self.min_estimate):
                    stop = "time_budget"
                    break
                sizes = files.snapshot(self.base)
                self._mark_current(item, sizes)
                t0 = time.time()
                try:
                    info = self._collect_one(item, sizes)
                except Exception as e:
                    files.rollback(sizes)  # a failed workload leaves no rows behind
                    fatal = is_fatal(e)
                    error = "".join(traceback.format_exception(type(e), e, e.__traceback__))
                    files.record_failure(self.opts.out, item, self.hardware, error, self.shard)
                    failed.append({**item.to_dict(), "error": f"{type(e).__name__}: {e}"[:300]})
                    print(f"{self.log_prefix} FAILED {item.family} {item.shape}: "
                          f"{type(e).__name__}: {str(e)[:300]}", flush=True)
                    if fatal:
                        stop = "fatal_device_error"
                        break
                    continue
                finally:
                    self._mark_current(None)
                    release_memory()
                took = time.time() - t0
                if info is None:  # cut by the deadline: rolled back, a later call redoes it
                    discarded.append({**item.to_dict(), "elapsed_s": round(took, 1)})
                    print(f"{self.log_prefix} {item.family} {item.shape}: cut by the deadline "
                          f"after {took:.1f}s, discarded", flush=True)
                    stop = "time_budget"
                    break
                self.durations.append(took - ((info.get("autotune") or {}).get("elapsed_s") or 0))
                done.append(info)
                best = info["finite"]["best_ms"]
                best_s = f"{best:.4f} ms" if best is not None else "none ok"
                print(f"{self.log_prefix} {item.family} {item.shape} {item.dtype}: "
                      f"{info['n_configs']} configs, best {best_s}"
                      f"{' +autotune' if item.autotune else ''}, {took:.1f}s "
                      f"(elapsed {time.time() - start:.0f}s, {i + 1}/{len(items)})", flush=True)
                if self.opts.control_every and len(done) % self.opts.control_every == 0:
                    self._control(len(done))
            if done and not fatal:
                self._control(len(done))
        return {"shard": self.shard, "hardware": self.hardware, "device": self.device,
                "base": str(self.base), "planned": len(items), "done": len(done),
                "failed": len(failed), "failures": failed, "discarded": discarded,
                "stopped": stop, "fatal": fatal,
                "run_id_mismatches": sum(1 for d in done if not d["run_id_ok"]),
                "autotuned": sum(1 for d in done if d.get("autotune")),
                "elapsed_s": round(time.time() - start, 1)}

    def _mark_current(self, item: cp.WorkItem | None, sizes: dict[str, int | None] | None = None
                      ) -> None:
        """Tell the --devices parent which workload is running and where its files stood before
        it (its watchdog reads this, and rolls the workload back if it has to kill us)."""
        if self.state_dir is None:
            return
        path = self.state_dir / f"shard{self.shard}.current.json"
        if item is None:
            path.unlink(missing_ok=True)
        else:  # write + rename: the parent never reads half a file
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps({"item": item.to_dict(), "hardware": self.hardware,
                                       "start": time.time(), "pid": os.getpid(),
                                       "files": sizes or {}}))
            tmp.replace(path)

    # -- one workload ---------------------------------------------------------------------------
    def _kernel(self, sk: Any, item_seed: int, log: bool) -> Any:
        import helion

        settings = sk.kernel.settings.to_dict()
        settings.update(
            autotune_ignore_errors=True, autotune_accuracy_check=True,
            autotune_random_seed=item_seed, autotune_progress_bar=False,
            autotune_effort="quick", disable_autotuner_heuristics=False,
            autotune_benchmark_subprocess=self.opts.benchmark_subprocess,
            autotune_precompile=None if self.opts.precompile == "none" else self.opts.precompile,
        )
        if self.opts.precompile_jobs:
            settings["autotune_precompile_jobs"] = self.opts.precompile_jobs
        if self.opts.backend != "triton":
            settings["backend"] = self.opts.backend
        if self.cpu:  # interpreter: precompile children and the benchmark worker both fail
            settings.update(autotune_precompile=None, autotune_benchmark_subprocess=False)
        if self.overrides:
            settings["autotune_config_overrides"] = dict(self.overrides)
        if log:
            settings.update(autotune_log=str(self.base), autotune_log_details=True)
        return helion.kernel(sk.kernel.fn, **settings)

    def _args(self, sk: Any, item: cp.WorkItem, seed: int) -> tuple:
        import torch

        torch.manual_seed(seed)
        dtype = getattr(torch, item.dtype.removeprefix("torch."))
        with gpu_lock.gpu_turn():  # filling GBs of inputs must not overlap another's timing
            args = sk.make_args(item.shape, dtype, self.device)
            if not self.cpu:
                torch.cuda.synchronize()
        return args

    def _collect_one(self, item: cp.WorkItem, sizes: dict[str, int | None]
                     ) -> dict[str, Any] | None:
        """Measure one workload and commit it; None when the deadline cut its finite search
        (then its files are rolled back to ``sizes``)."""
        from ...features import sidecar
        from ...features.facts import facts_from_env
        from ..suite.registry import SUITE

        sk = SUITE[item.family]
        self._inject_fault(item)
        gpu_lock.take_stats()  # reset: the record gets this workload's lock waits only
        seed = item.seed(self.opts.seed)
        args = self._args(sk, item, seed)
        kernel = self._kernel(sk, seed, log=True)
        bound = kernel.bind(args)
        env = bound.env
        values = dict(zip(kernel.signature.parameters, args, strict=False))
        with env, env.use_runtime_arg_values(values):  # as at bind time: facts see real inputs
            facts = facts_from_env(env, bound.host_function.device_ir)
        replayed = self.replay.get((item.family, item.shape, item.dtype, item.backend), [])
        configs, origins, stats = config_list(bound, values, facts, seed,
                                              overrides=self.overrides,
                                              n_random=self.opts.n_random, n_grid=self.opts.n_grid,
                                              extra=replayed)
        shapes, dtypes = sidecar.shapes_and_dtypes(args)
        run_id = sidecar.helion_run_id(kernel_source=kernel.kernel_source(),
                                       settings=kernel.settings.to_dict(), input_shapes=shapes,
                                       dtypes=dtypes, hardware=self.hardware)
        csv_path = self.base.with_suffix(".csv")
        csv_offset = sizes.get(str(csv_path)) or 0

        t0 = time.time()
        kernel.settings.autotune_budget_seconds = max(5.0, self.time_left())
        finite = finite_search(bound, args, configs)
        finite["elapsed_s"] = round(time.time() - t0, 2)
        if finite["truncated"]:  # some configs never ran: keep nothing, redo it in full later
            files.rollback(sizes)
            return None
        autotune = None
        if item.autotune and self.time_left() > MARGIN_S:
            kernel.settings.autotune_budget_seconds = max(
                5.0, min(self.opts.autotune_budget_s, self.time_left()))
            autotune = real_autotune(bound, args, effort=self.opts.autotune_effort)
            if autotune.get("best_config_id"):
                origins.append((autotune["best_config_id"], "autotune"))

        helion_run_id = finite.pop("helion_run_id", None)
        csv_ids = files.csv_run_ids(csv_path, csv_offset)
        run_id_ok = run_id == helion_run_id and (run_id in csv_ids or not csv_ids)
        if not run_id_ok:
            print(f"{self.log_prefix} WARNING: run_id MISMATCH for {item.family} {item.shape}: "
                  f"ours {run_id[:12]} helion {str(helion_run_id)[:12]} csv "
                  f"{sorted(i[:12] for i in csv_ids)}; the facts use Helion's",
                  file=sys.stderr, flush=True)
            # Helion's id is what its CSV rows carry (cute adds a structural-policy part to it
            # that a bind-time computation cannot see): join on that one.
            if helion_run_id and (helion_run_id in csv_ids or not csv_ids):
                run_id = helion_run_id
        files.write_origins(self.base, run_id, origins)
        record = sidecar.make_record(run_id=run_id, kernel_name=kernel.name, input_shapes=shapes,
                                     dtypes=dtypes, hardware=self.hardware, facts=facts,
                                     hardware_facts=self.hw_facts)
        info = {
            **item.to_dict(), "hardware": self.hardware, "device": self.device,
            "host": socket.gethostname(), "shard": self.shard, "seed": seed,
            "collector_version": COLLECTOR_VERSION, "timestamp": time.time(),
            "n_configs": len(configs), **stats, "finite": finite, "autotune": autotune,
            "run_id_ok": run_id_ok, "gpu_shared": self.gpu_shared,
            "procs_per_device": self.opts.procs_per_device, "timing": self.opts.timing,
            **gpu_lock.take_stats(),
        }
        record["workload"] = info
        sidecar.append_record(sidecar.sidecar_path(self.base), record)  # last: commits it
        return info

    def _inject_fault(self, item: cp.WorkItem) -> None:
        fault = os.environ.get(FAULT_ENV, "")
        if self.state_dir is None or ":" not in fault:
            return
        kind, family = fault.split(":", 1)
        if family == item.family and kind == "crash":
            os._exit(86)
        if family == item.family and kind == "hang":
            time.sleep(3600)

    # -- drift control --------------------------------------------------------------------------
    def _control(self, n_done: int) -> None:
        if not self.opts.control_every:
            return
        try:
            ms, config_id, family, shape = self._control_measure()
        except Exception as e:  # drift control must never stop the collection
            print(f"{self.log_prefix} control measurement failed: {type(e).__name__}: {e}",
                  file=sys.stderr, flush=True)
            return
        from ...features.sidecar import append_record

        append_record(self.opts.out / cp.CONTROL_FILE, {
            "timestamp": time.time(), "perf_ms": ms, "family": family, "shape": list(shape),
            "config_id": config_id, "hardware": self.hardware, "device": self.device,
            "shard": self.shard, "host": socket.gethostname(), "pid": os.getpid(),
            "workloads_done": n_done, "gpu_shared": self.gpu_shared,
            "procs_per_device": self.opts.procs_per_device, "timing": self.opts.timing,
        })

    def _control_measure(self) -> tuple[float, str, str, tuple[int, ...]]:
        from helion.autotuner import benchmarking
        from helion.autotuner.search_space_logger import canonical_config_id

        from ..suite.registry import SUITE

        family, shape, partial = CONTROL["cpu" if self.cpu else "gpu"]
        if self.control_fn is None:
            import helion

            sk = SUITE[family]
            item = cp.WorkItem(family, shape, str(sk.dtype))
            args = self._args(sk, item, 0)
            bound = self._kernel(sk, 0, log=False).bind(args)
            cs = bound.env.config_spec
            config = cs.default_config()
            if partial is not None:
                gen = cs.create_config_generation(overrides=self.overrides or None)
                config = gen.canonicalize_flat(gen.flatten(helion.Config(**partial)))[1]
            fn = bound.compile_config(config, allow_print=False)
            self.control_fn = (fn, args, canonical_config_id(config))
        fn, args, config_id = self.control_fn
        bench = benchmarking.do_bench_generic if self.cpu else benchmarking.do_bench
        fn(*args)  # compile outside the lock: Triton's JIT must not hold the GPU's turn
        with gpu_lock.gpu_turn():
            ms = bench(lambda: fn(*args), warmup=1, rep=50, return_mode="median")
        return float(ms), config_id, family, shape
