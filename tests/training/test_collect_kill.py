"""Kill the collector mid-workload (SIGKILL), resume: nothing lost, nothing measured twice."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from helion_learned.training.logs import load_logs
from helion_learned.training.suite.registry import SUITE

ARGS = ["--cpu-interpret", "--tiny", "--families", "silu_fp16", "add_fp32", "gelu_bf16",
        "--random", "3", "--grid", "3", "--control-every", "0", "--time-budget-s", "300"]


def _committed(out: Path) -> set[str]:
    ids = set()
    for f in out.glob("shard*.facts.jsonl"):
        ids |= {json.loads(line)["run_id"] for line in f.read_text().splitlines() if line.strip()}
    return ids


def _csv_ids(out: Path) -> set[str]:
    ids = set()
    for f in out.glob("shard*.csv"):
        if not f.name.endswith(".sources.csv"):
            with open(f, newline="") as fh:
                ids |= {row[0] for row in csv.reader(fh) if row and row[0] != "run_id"}
    return ids


def test_killed_collector_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "helion_learned.training.collect", "--out", str(out), *ARGS]
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_mid_workload = False
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            # Kill once a workload is committed and the next one has rows but no facts yet.
            if out.exists() and _committed(out) and _csv_ids(out) - _committed(out):
                proc.send_signal(signal.SIGKILL)
                killed_mid_workload = True
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert killed_mid_workload, "the collector finished before it could be killed mid-workload"
    orphans = _csv_ids(out) - _committed(out)
    assert orphans  # the killed run left uncommitted rows behind
    done_before = _committed(out)

    rc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rc.returncode == 0, rc.stderr[-2000:]
    assert "removed uncommitted rows" in rc.stdout
    assert _csv_ids(out) == _committed(out)  # every row belongs to a committed workload
    planned = sum(len(SUITE[f].tiny_shapes) for f in ("silu_fp16", "add_fp32", "gelu_bf16"))
    assert done_before <= _committed(out) and len(_committed(out)) == planned
    logset = load_logs([out])  # strict: would fail on rows without facts
    for w in logset.workloads:
        counts = Counter(m.n_measurements for m in w.measurements)
        assert set(counts) == {1}, (w.kernel_name, counts)  # no config measured twice
