"""The scale benchmark (benchmarks/scale_ingest_train.py) at toy size, so it cannot rot.

Its logs are SYNTHETIC (real kernel facts, made-up timings); only the mechanics are checked here:
Helion's exact CSV header, the requested row count, the report's per-stage time/memory fields,
and that the in-memory and --external-memory paths see the same data (same fingerprint).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from helion_learned.training.logs.parsing import CSV_FIELDS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale_ingest_train.py"


def _run(tmp_path: Path, out: str, *args: str) -> dict:
    cmd = [sys.executable, str(SCRIPT), "--rows", "600", "--bases", "2", "--configs-per-workload",
           "40", "--families", "add_fp32,matmul_fp16", "--data-dir", str(tmp_path / "data"),
           "--n-estimators", "5", "--jobs", "1", "--out", str(tmp_path / out), *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    return json.loads((tmp_path / out).read_text())


def test_scale_benchmark_small(tmp_path: Path) -> None:
    mem = _run(tmp_path, "mem.json", "--train", "final")
    assert "SYNTHETIC" in mem["note"]
    assert mem["generation"]["rows"] == 600 and mem["dataset"]["rows"] == 600
    for stage in ("load_logs", "build_dataset", "train"):
        entry = mem["stages"][stage]
        assert entry["seconds"] >= 0 and entry["peak_rss_mb"] > 0
        assert entry["peak_rss_with_children_mb"] >= entry["rss_before_mb"] > 0
    csv_files = [Path(f) for f in mem["generation"]["files"] if f.endswith(".csv")]
    assert len(csv_files) == 2
    with csv_files[0].open(newline="") as f:
        assert tuple(next(csv.reader(f))) == CSV_FIELDS

    ext = _run(tmp_path, "ext.json", "--reuse", "--train", "external", "--cv-workloads", "6")
    assert ext["stages"]["train_external"]["seconds"] > 0
    assert ext["external_memory"]["log_bases"] == 2
    assert ext["dataset"]["fingerprint"] == mem["dataset"]["fingerprint"]
