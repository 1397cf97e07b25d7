"""The collector end to end on the CPU interpreter: Helion-native logs, joined facts, resume."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from helion_learned.training.collect import collect
from helion_learned.training.collect import plan as cp

FAMILIES = ["matmul_fp16", "softmax_bf16", "silu_fp16"]  # one matmul, reduction, pointwise


def _jsonl(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]


def _csv_rows(out: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(out.glob("*.csv")):
        with open(path, newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("collect")
    summary = collect(out, families=FAMILIES, cpu_interpret=True, n_random=3, n_grid=3,
                      control_every=2)
    return out, summary


def test_writes_helion_native_logs_and_facts(collected: tuple[Path, dict]) -> None:
    out, summary = collected
    assert summary["done"] == 3 and summary["failed"] == 0 and summary["run_id_mismatches"] == 0
    for suffix in (".csv", ".meta.jsonl", ".facts.jsonl", ".origins.jsonl"):
        assert list(out.glob(f"shard0_*{suffix}")), suffix
    facts = _jsonl(sorted(out.glob("*.facts.jsonl")))
    meta = _jsonl(sorted(out.glob("*.meta.jsonl")))
    rows = _csv_rows(out)
    assert sorted(f["workload"]["family"] for f in facts) == sorted(FAMILIES)
    csv_ids = {r["run_id"] for r in rows}
    assert {f["run_id"] for f in facts} == csv_ids == {m["run_id"] for m in meta}
    assert all(r["status"] for r in rows)
    assert {r["status"] for r in rows} >= {"started", "ok"}
    for f in facts:
        w = f["workload"]
        assert w["hardware"] == f["hardware"] == "" and w["dtype"] != "torch.bfloat16"
        assert w["finite"]["best_ms"] > 0 and w["n_configs"] >= 3
        assert w["fragment_default_config_id"] in {r["config_id"] for r in rows
                                                  if r["run_id"] == f["run_id"]}
    origins = _jsonl(sorted(out.glob("*.origins.jsonl")))
    assert {o["origin"] for o in origins} >= {"default", "random", "grid"}
    assert {o["run_id"] for o in origins} == csv_ids
    control = _jsonl([out / cp.CONTROL_FILE])
    assert len(control) >= 2 and all(c["perf_ms"] > 0 for c in control)


def test_second_call_resumes_without_new_rows(collected: tuple[Path, dict]) -> None:
    out, _ = collected
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    summary = collect(out, families=FAMILIES, cpu_interpret=True, n_random=3, n_grid=3)
    assert summary["done"] == 0 and summary["planned"] == 0 and summary["skipped_done"] == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_plan_interleaves_families_and_picks_autotune_subset() -> None:
    pairs = [("a", (1,)), ("a", (2,)), ("a", (3,)), ("b", (1,)), ("b", (2,))]
    items, skipped = cp.plan(pairs, dtype_of=lambda f: "torch.float16", hardware="H",
                             done={cp.workload_key("a", (2,), "torch.float16", "H")},
                             max_workloads=None, autotune_subset=2)
    assert skipped == 1 and len(items) == 4
    assert [it.family for it in items[:2]] in (["a", "b"], ["b", "a"])
    assert sum(it.autotune for it in items) == 2
    assert cp.shard(items, 2) == [items[0::2], items[1::2]]


def test_devices_children_restart_after_crash_and_hang(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Two "device" children on the CPU; one workload kills its child, another hangs it.
    from helion_learned.training.collect import FAULT_ENV

    families = ["matmul_fp16", "softmax_bf16", "silu_fp16", "rms_norm_bf16"]
    monkeypatch.setenv(FAULT_ENV, "crash:softmax_bf16")
    first = collect(tmp_path, families=families[:2], cpu_interpret=True, devices=[0, 1],
                    n_random=2, n_grid=2, control_every=0)
    monkeypatch.setenv(FAULT_ENV, "hang:silu_fp16")
    # The timeout must only catch the injected hang: 3 s also cut a real rms_norm workload on a
    # loaded 2-core machine (fresh-clone run, stop 12), so leave the real ones ample room.
    second = collect(tmp_path, families=families, cpu_interpret=True, devices=[0, 1],
                     n_random=2, n_grid=2, control_every=0, workload_timeout_s=15)
    failures = _jsonl([tmp_path / cp.FAILURES_FILE])
    assert sorted(f["workload"]["family"] for f in failures) == ["silu_fp16", "softmax_bf16"]
    assert first["done"] == 1 and second["done"] == 1 and second["skipped_done"] == 2
    facts = _jsonl(sorted(tmp_path.glob("*.facts.jsonl")))
    assert sorted(f["workload"]["family"] for f in facts) == ["matmul_fp16", "rms_norm_bf16"]
    assert sum(second["restarts"].values()) == 1


def test_cli_collect_passes_options_through(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from helion_learned import cli
    from helion_learned.training import collect as collect_module

    seen: list[list[str]] = []
    monkeypatch.setattr(collect_module, "main", lambda argv: seen.append(list(argv)) or 0)
    assert cli.main(["collect", "--out", "X", "--tiny"]) == 0
    assert cli.main(["-v", "collect", "--", "--out", "X"]) == 0
    assert seen == [["--out", "X", "--tiny"], ["--", "--out", "X"]]  # collect.main drops "--"


def test_cli_collect_writes_logs(tmp_path: Path) -> None:
    from helion_learned import cli

    rc = cli.main(["collect", "--out", str(tmp_path), "--cpu-interpret", "--tiny",
                   "--families", "silu_fp16", "--random", "1", "--grid", "1",
                   "--control-every", "0", "--max-workloads", "1"])
    assert rc == 0
    for suffix in (".csv", ".meta.jsonl", ".facts.jsonl", ".origins.jsonl"):
        assert list(tmp_path.glob(f"shard0_*{suffix}")), suffix
    facts = _jsonl(sorted(tmp_path.glob("*.facts.jsonl")))
    assert [f["workload"]["family"] for f in facts] == ["silu_fp16"]
    assert {r["run_id"] for r in _csv_rows(tmp_path)} == {facts[0]["run_id"]}


def test_estimate_is_a_robust_quantile() -> None:
    from helion_learned.training.collect.worker import estimate

    assert estimate([], 20.0) == 20.0
    assert estimate([5.0], 20.0) == 20.0
    durations = [13.0, 40.0, 55.0, 60.0, 62.0, 70.0, 90.0, 160.0]
    assert 60.0 < estimate(durations, 20.0) < 90.0  # not the 160 s outlier (the old max rule)


def test_rollback_restores_files(tmp_path: Path) -> None:
    from helion_learned.training.collect import files as files

    base = tmp_path / "shard0_host_1"
    base.with_suffix(".csv").write_text("run_id,x\na,1\n")
    sizes = files.snapshot(base)
    with open(base.with_suffix(".csv"), "a") as f:
        f.write("b,2,c1,0,started,,,{}\n")
    base.with_suffix(".meta.jsonl").write_text("{}\n")
    assert files.unfinished_config(sizes) == {"run_id": "b", "config_id": "c1", "config": "{}"}
    files.rollback(sizes)
    assert base.with_suffix(".csv").read_text() == "run_id,x\na,1\n"
    assert not base.with_suffix(".meta.jsonl").exists()


def test_workload_cut_by_deadline_leaves_nothing(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Helion's budget (5 s at least) cuts a ~120-config search: the workload must be rolled back
    # (no CSV rows, meta or facts record) and not count as done, so a later call redoes it.
    import time

    from helion_learned.training.collect.options import MARGIN_S
    from helion_learned.training.collect.options import Options
    from helion_learned.training.collect.options import plan_items
    from helion_learned.training.collect.worker import Worker

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("HELION_SKIP_CACHE", "1")
    opts = Options(out=tmp_path, families=["matmul_fp16"], max_workloads=1, tiny=True,
                   cpu_interpret=True, n_random=60, n_grid=60, control_every=0)
    items, _ = plan_items(opts, "")
    worker = Worker(opts, 0, deadline=0.0)
    worker.deadline = time.time() + MARGIN_S + 3  # it starts: 3 s left > the 2 s minimum
    summary = worker.run(items)
    assert summary["done"] == 0 and summary["failed"] == 0 and len(summary["discarded"]) == 1
    assert summary["stopped"] == "time_budget"
    for suffix in (".csv", ".meta.jsonl", ".facts.jsonl", ".origins.jsonl", ".trace.jsonl"):
        assert not list(tmp_path.glob(f"*{suffix}")), suffix
    assert cp.read_done([tmp_path]) == set()


def _hold_turn(lock: str, log: str, n: int) -> None:  # child of the lock test below
    import os
    import time

    from helion_learned.training.collect import gpu_lock as gl

    os.environ[gl.LOCK_ENV] = lock
    for _ in range(n):
        with gl.gpu_turn():
            t0 = time.time()
            time.sleep(0.02)
            with open(log, "a") as f:
                f.write(f"{t0} {time.time()}\n")


def test_gpu_turns_of_processes_never_overlap(tmp_path: Path) -> None:
    import multiprocessing as mp

    lock, log = str(tmp_path / "gpu0.lock"), str(tmp_path / "turns.txt")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hold_turn, args=(lock, log, 10)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    spans = sorted(tuple(map(float, line.split())) for line in Path(log).read_text().splitlines())
    assert len(spans) == 30
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_procs_per_device_share_one_gpu_and_take_turns(tmp_path: Path) -> None:
    # Two children on one "device" (CPU interpreter): both measure, every timing took the lock.
    summary = collect(tmp_path, families=["silu_fp16", "add_fp32"], cpu_interpret=True,
                      devices=[0], procs_per_device=2, n_random=2, n_grid=2, control_every=1)
    assert summary["procs_per_device"] == 2 and summary["done"] == 3
    facts = _jsonl(sorted(tmp_path.glob("*.facts.jsonl")))
    assert len({f["workload"]["shard"] for f in facts}) == 2
    for f in facts:
        w = f["workload"]
        assert w["gpu_shared"] is True and w["procs_per_device"] == 2
        assert w["gpu_lock_turns"] >= w["n_configs"]  # one turn per timed config, plus inputs
    control = _jsonl([tmp_path / cp.CONTROL_FILE])
    assert control and all(c["gpu_shared"] and c["procs_per_device"] == 2 for c in control)


def test_kill_reaches_children_in_their_own_sessions(tmp_path: Path) -> None:
    # A grandchild in a session of its own (as Helion's precompile children can be) survives
    # killpg of its parent's group; the watchdog's kill must reach it too.
    import os
    import subprocess
    import sys
    import time

    from helion_learned.training.collect.shards import kill_tree

    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
            " start_new_session=True)\n"
            f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    kill_tree(proc)
    for _ in range(100):  # reaped by init once killed; /proc entry goes away
        state = Path(f"/proc/{grandchild}/stat")
        if not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, 9)
        raise AssertionError("grandchild in its own session survived kill_tree")


def test_backend_is_part_of_the_workload_key(tmp_path: Path) -> None:
    # A cute workload never counts as done because the triton one is (and old keys still match).
    assert cp.workload_key("a", (2,), "torch.float16", "H") == json.dumps(
        ["a", [2], "torch.float16", "H"])
    triton = cp.WorkItem("a", (2,), "torch.float16")
    cute = cp.WorkItem("a", (2,), "torch.float16", backend="cute")
    assert triton.key("H") != cute.key("H")
    assert cp.WorkItem.from_dict(cute.to_dict()) == cute
    assert cp.WorkItem.from_dict({"family": "a", "shape": [2], "dtype": "torch.float16"}) == triton
    (tmp_path / "x.facts.jsonl").write_text(json.dumps({"workload": {**triton.to_dict(),
                                                                     "hardware": "H"}}) + "\n")
    done = cp.read_done([tmp_path])
    items, skipped = cp.plan([("a", (2,))], dtype_of=lambda f: "torch.float16", hardware="H",
                             done=done, max_workloads=None, autotune_subset=0, backend="cute")
    assert skipped == 0 and [it.backend for it in items] == ["cute"]
    items, skipped = cp.plan([("a", (2,))], dtype_of=lambda f: "torch.float16", hardware="H",
                             done=done, max_workloads=None, autotune_subset=0)
    assert skipped == 1 and not items


def test_ingest_round_adds_a_round_and_drops_uncommitted_rows(collected: tuple[Path, dict],
                                                              tmp_path: Path) -> None:
    import importlib.util
    import shutil
    import sys
    import tarfile

    from helion_learned.training.logs import load_logs

    out, _ = collected
    round_dir = tmp_path / "round"
    shutil.copytree(out, round_dir)
    csv_path = sorted(round_dir.glob("shard*.csv"))[0]
    rows_before = len(_csv_rows(round_dir))
    with open(csv_path, "a") as f:  # a workload killed mid-way: rows, no facts record
        f.write("deadbeef,1.00,abc,0,ok,0.5,0.1,\"Config(block_sizes=[8])\"\n")
    archive = tmp_path / "collect.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(round_dir, arcname=".")
    dest = tmp_path / "data"
    dest.mkdir()
    spec = importlib.util.spec_from_file_location(
        "ingest_round", Path(__file__).resolve().parents[2] / "scripts" / "ingest_round.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ingest_round"] = mod
    spec.loader.exec_module(mod)
    summary = mod.ingest(archive, dest, 7, [])
    facts = _jsonl(sorted(out.glob("*.facts.jsonl")))
    assert summary["workloads"] == len(facts) and summary["orphan_rows_removed"] == 1
    assert summary["csv_rows"] == rows_before
    logset = load_logs([dest])
    assert {w.run_id for w in logset.workloads} == {f["run_id"] for f in facts}
    assert (dest / "control.jsonl.gz").exists()
    with pytest.raises(SystemExit, match="already has"):  # a second ingest writes nothing
        mod.ingest(archive, dest, 8, [])

def _ingest_module():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "ingest_round", Path(__file__).resolve().parents[2] / "scripts" / "ingest_round.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ingest_round"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_ingest_round_tag_renames_a_repeated_round_and_its_bases_still_join(
        collected: tuple[Path, dict], tmp_path: Path) -> None:
    import tarfile

    from helion_learned.training.logs import load_logs

    out, _ = collected
    archive = tmp_path / "collect.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(out, arcname=".")
    dest = tmp_path / "data"
    dest.mkdir()
    mod = _ingest_module()
    first = mod.ingest(archive, dest, 1, [])

    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}

    def measured(logset) -> dict[str, list[tuple[str, str, float | None]]]:
        return {w.run_id: [(m.config_id, m.status, m.perf_ms) for m in w.measurements]
                for w in logset.workloads}

    once = measured(load_logs([dest]))
    before = snapshot()
    with pytest.raises(SystemExit, match="Fix: pass --tag r2"):  # same shard bases again
        mod.ingest(archive, dest, 2, [])
    assert snapshot() == before  # nothing written, nothing appended
    for bad in ("r.2", "r/2", "../r2"):
        with pytest.raises(SystemExit, match="letters, digits and _ only"):
            mod.ingest(archive, dest, 2, [], tag=bad)
        assert snapshot() == before

    second = mod.ingest(archive, dest, 2, [], tag="r2")
    assert {k: second[k] for k in ("workloads", "csv_rows", "files")} == {
        k: first[k] for k in ("workloads", "csv_rows", "files")}
    after = snapshot()
    new = sorted(set(after) - set(before))
    assert len(new) == second["files"] > 0
    assert all("_r2." in name and name.startswith("shard") for name in new)
    assert sorted(n.replace("_r2.", ".") for n in new) == sorted(
        n for n in before if n.startswith("shard"))  # one tagged copy of every shard file
    assert after["control.jsonl.gz"] != before["control.jsonl.gz"]  # appended to

    facts = _jsonl(sorted(out.glob("*.facts.jsonl")))
    logset = load_logs([dest])
    assert {w.run_id for w in logset.workloads} == {f["run_id"] for f in facts}
    assert not logset.skipped
    for w in logset.workloads:  # each workload joins its rows from the untagged and tagged bases
        assert any("_r2." in s for s in w.sources) and any(
            "_r2." not in s for s in w.sources)
        assert w.facts is not None
    rows = _csv_rows(out)
    assert sum(m.n_measurements for w in logset.workloads for m in w.measurements) == 2 * sum(
        r["status"] != "started" for r in rows)
    assert measured(logset) == once  # the same configs and times: each row counted twice



def test_replay_plan_measures_the_source_workloads_and_configs(collected: tuple[Path, dict],
                                                              tmp_path: Path) -> None:
    from helion_learned.training.collect.replay import build_plan
    from helion_learned.training.collect.replay import load_plan

    source, _ = collected
    plan = build_plan([source], top=2, sample=1)
    assert len(plan["workloads"]) == len(FAMILIES)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert set(load_plan(path)) == {(w["family"], tuple(w["shape"]), w["dtype"], "triton")
                                    for w in plan["workloads"]}
    out = tmp_path / "target"
    # Only one family selected: the plan restricts workloads, --families still narrows them.
    summary = collect(out, families=["softmax_bf16", "silu_fp16"], cpu_interpret=True,
                      n_random=0, n_grid=0, control_every=0, replay=path)
    assert summary["done"] == 2 and summary["failed"] == 0
    facts = _jsonl(sorted(out.glob("*.facts.jsonl")))
    origins = _jsonl(sorted(out.glob("*.origins.jsonl")))
    measured = {(r["run_id"], r["config_id"]) for r in _csv_rows(out) if r["status"] == "ok"}
    for f in facts:
        w = f["workload"]
        src = next(p for p in plan["workloads"] if p["family"] == w["family"])
        assert w["shape"] == src["shape"] and w["n_by_origin"].get("random", 0) == 0
        replayed = {o["config_id"] for o in origins
                    if o["run_id"] == f["run_id"] and o["origin"] == "replay"}
        # Every source config is measured again here, under the same config id (the source's
        # default/heuristic configs keep their own origin: first origin wins).
        ids = {o["config_id"] for o in origins if o["run_id"] == f["run_id"]}
        assert set(src["source_config_ids"]) <= ids
        assert replayed and replayed <= set(src["source_config_ids"])
        assert {(f["run_id"], c) for c in src["source_config_ids"]} <= measured


def test_replay_plan_errors_name_the_file_and_fix(tmp_path: Path) -> None:
    from helion_learned.training.collect.replay import load_plan

    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"schema": 99, "workloads": []}))
    with pytest.raises(ValueError, match=r"plan.json: replay plan schema 99.*Fix: regenerate"):
        load_plan(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"plan.json: not a readable replay plan"):
        load_plan(bad)


def test_timing_mode_is_set_explicitly_and_recorded(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A user's shell exporting HELION_BENCHMARK_CUDAGRAPH=1 must not turn a launch-timed
    # collection into a graph-timed one: Helion reads the variable at every benchmark.
    import os

    from helion_learned.training.collect import worker as collect_worker

    seen: list[str | None] = []
    real = collect_worker.finite_search

    def spy(*args, **kw):
        seen.append(os.environ.get("HELION_BENCHMARK_CUDAGRAPH"))  # what Helion's do_bench reads
        return real(*args, **kw)

    monkeypatch.setattr(collect_worker, "finite_search", spy)
    monkeypatch.setenv("HELION_BENCHMARK_CUDAGRAPH", "1")
    for timing, flag in (("launch", "0"), ("cudagraph", "1")):
        seen.clear()
        out = tmp_path / timing
        summary = collect(out, families=["silu_fp16"], cpu_interpret=True, n_random=1, n_grid=1,
                          control_every=1, timing=timing)
        assert summary["done"] == 1
        assert seen and set(seen) == {flag}, (timing, seen)
        facts = _jsonl(sorted(out.glob("*.facts.jsonl")))
        assert [f["workload"]["timing"] for f in facts] == [timing]
        assert {c["timing"] for c in _jsonl([out / cp.CONTROL_FILE])} == {timing}
    assert os.environ["HELION_BENCHMARK_CUDAGRAPH"] == "1"  # restored after the run
    with pytest.raises(ValueError, match="expected one of launch, cudagraph"):
        collect(tmp_path / "bad", families=["silu_fp16"], cpu_interpret=True, timing="graph")


def test_replay_plan_of_short_kernels_keeps_exactly_those_under_the_cap() -> None:
    # The committed plan behind data/h200_short_graph: every H100 workload whose fastest ok
    # config ran <= 15 us, with its whole list; the rest left out.
    import gzip
    import json

    from helion_learned.training.collect.replay import build_plan
    from helion_learned.training.collect.replay import facts_workloads
    from helion_learned.training.logs import load_logs

    root = Path(__file__).resolve().parents[2]
    # The plan replayed the launch-timed rounds (1-6); rounds 7-8 are graph-timed already.
    sections = facts_workloads([root / "data/h100"])
    launch = {r for r, w in sections.items() if w.get("timing", "launch") == "launch"}
    assert 0 < len(launch) < len(sections)
    plan = build_plan([root / "data/h100"], top=100000, sample=100000, max_best_ms=0.015)
    plan_launch = [w for w in plan["workloads"] if w["source_run_id"] in launch]
    committed = json.loads(gzip.decompress(
        (root / "data/replay_plans/h100_short15us_all.json.gz").read_bytes()))
    assert plan_launch == committed["workloads"]
    best = {w.run_id: min((m.perf_ms for m in w.measurements
                           if m.status == "ok" and m.perf_ms is not None), default=None)
            for w in load_logs([root / "data/h100"]).workloads}
    kept = {w["source_run_id"] for w in plan["workloads"]}
    assert kept and all(best[r] <= 0.015 for r in kept)
    assert all(b is None or b > 0.015 for r, b in best.items() if r not in kept)
    sizes = {w.run_id: len(w.measurements) for w in load_logs([root / "data/h100"]).workloads}
    assert all(len(w["configs"]) == sizes[w["source_run_id"]] for w in plan["workloads"])
    with pytest.raises(ValueError, match="--max-best-ms must be > 0"):
        build_plan([root / "data/h100"], max_best_ms=0)


def _copy_missing_workloads():
    """scripts/copy_missing_workloads.py as a module (scripts/ is not a package)."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "scripts" / "copy_missing_workloads.py"
    spec = importlib.util.spec_from_file_location("copy_missing_workloads", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["copy_missing_workloads"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_copy_missing_workloads_copies_the_replicate_rounds_new_workloads_only(
        tmp_path: Path) -> None:
    """The real case: data/h100_graph_rep (round 4, whole) holds 11 workloads, 8 of them
    already in data/h100_graph; copied into a folder without the committed ``*_r4new`` bases,
    exactly the other 3 come back, and they load with the committed bases' measurements."""
    import shutil

    from helion_learned.training.logs import load_logs

    root = Path(__file__).resolve().parents[2]
    mod = _copy_missing_workloads()
    dest = tmp_path / "h100_graph"
    dest.mkdir()
    for f in (root / "data" / "h100_graph").glob("shard*"):
        if "_r4new." not in f.name:
            shutil.copy(f, dest)
    before = {w.run_id for w in load_logs([dest]).workloads}
    rep = {w.run_id for w in load_logs([root / "data" / "h100_graph_rep"]).workloads}
    copied = mod.copy_missing(root / "data" / "h100_graph_rep", dest, "t")
    assert {c[0] for c in copied} == rep - before and len(copied) == 3
    committed = {w.run_id: sorted((m.config_id, m.status, m.perf_ms) for m in w.measurements)
                 for w in load_logs(sorted((root / "data" / "h100_graph").glob("*_r4new.csv.gz"))
                                    ).workloads}
    got = {w.run_id: sorted((m.config_id, m.status, m.perf_ms) for m in w.measurements)
           for w in load_logs([dest]).workloads if w.run_id not in before}
    assert got == committed
    for f in dest.glob("*_t.facts.jsonl.gz"):  # missing again, but their files are there
        f.unlink()
    with pytest.raises(SystemExit, match="exists"):  # nothing overwritten
        mod.copy_missing(root / "data" / "h100_graph_rep", dest, "t")


def test_copy_missing_workloads_splits_a_round_by_family(tmp_path: Path) -> None:
    """A round run without --families mixes suite and new kernels: --families and
    --exclude-families send each workload to exactly one of two folders, none lost."""
    import json

    from helion_learned.training.logs import load_logs

    root = Path(__file__).resolve().parents[2]
    mod = _copy_missing_workloads()
    src = root / "data" / "h100_graph_rep"
    family = {r["run_id"]: r["workload"]["family"]
              for path in src.glob("*.facts.jsonl.gz")
              for r in map(json.loads, mod.open_text(path)) if r}
    wanted = {"bmm_bf16", "softmax_bf16"}
    assert wanted & set(family.values()) and set(family.values()) - wanted  # both sides non-empty
    picked, rest = tmp_path / "picked", tmp_path / "rest"
    picked.mkdir()
    rest.mkdir()
    a = mod.main([str(src), str(picked), "--tag", "a", "--families", "bmm_*", "softmax_bf16"])
    b = mod.main([str(src), str(rest), "--tag", "b", "--exclude-families", "bmm_*",
                  "softmax_bf16"])
    assert a == b == 0
    got_a = {w.run_id for w in load_logs([picked]).workloads}
    got_b = {w.run_id for w in load_logs([rest]).workloads}
    assert got_a == {r for r, f in family.items() if f in wanted}
    assert got_b == set(family) - got_a


def test_real_autotune_full_effort_records_effort_and_budget_cut(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A real Helion search (LFBOTreeSearch) with the full effort profile, cut by a 3 s budget on
    # the CPU interpreter: it still returns Helion's best so far and says it was cut.
    import helion
    import torch

    from helion_learned.training.collect.measure import real_autotune
    from helion_learned.training.collect.measure import without_learned_heuristics
    from helion_learned.training.suite.interpret import apply_cpu_patches
    from helion_learned.training.suite.registry import SUITE

    monkeypatch.setenv("HELION_SKIP_CACHE", "1")
    apply_cpu_patches()  # Helion's CUDA timer needs a driver: time on the wall clock instead
    sk = SUITE["add_fp32"]
    settings = {**sk.kernel.settings.to_dict(), "autotune_budget_seconds": 3.0,
                "autotune_precompile": None, "autotune_progress_bar": False,
                "autotune_ignore_errors": True, "autotune_benchmark_subprocess": False,
                "autotune_config_overrides": {"pid_type": "flat"}}
    kernel = helion.kernel(sk.kernel.fn, **settings)
    torch.manual_seed(0)
    args = sk.make_args((64, 64), torch.float32, "cpu")
    with without_learned_heuristics():
        bound = kernel.bind(args)
        result = real_autotune(bound, args, effort="full")
    assert bound.settings.autotune_effort == settings["autotune_effort"]  # restored
    assert "error" not in result, result
    assert result["effort"] == "full" and result["budget_s"] == 3.0
    assert result["best_config_id"] and result["best_ms"] is not None and result["best_ms"] > 0
    assert result["budget_hit"] is True and result["elapsed_s"] >= 2.85
