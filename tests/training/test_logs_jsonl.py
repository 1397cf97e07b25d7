"""The one JSON-lines reader of our sidecars: strict for training, tolerant for resume."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from helion_learned.training.collect.plan import read_done
from helion_learned.training.jsonl import iter_jsonl
from helion_learned.training.logs.origins import load_origins


def test_strict_names_file_and_line_tolerant_skips_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "x.facts.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"run_id": "a"}\n\n[1, 2]\n{"run_id": "b"}\n{"run_id": "c'))
    assert [(n, r["run_id"]) for n, r in iter_jsonl(path, strict=False)] == [(1, "a"), (4, "b")]
    with pytest.raises(ValueError, match=r"x.facts.jsonl.gz:3: expected a JSON object"):
        list(iter_jsonl(path, strict=True))
    assert list(iter_jsonl(tmp_path / "missing.jsonl", strict=False)) == []
    with pytest.raises(OSError):
        list(iter_jsonl(tmp_path / "missing.jsonl", strict=True))


def test_training_refuses_and_resume_skips_the_same_torn_origins_file(tmp_path: Path) -> None:
    # A real collected round (the committed replicate), its origins sidecar torn at the end.
    src = Path(__file__).resolve().parents[2] / "data/h200_short_graph_rep"
    for f in src.glob("shard0_*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    origins = next(tmp_path.glob("*.origins.jsonl.gz"))
    origins.write_bytes(gzip.compress(gzip.decompress(origins.read_bytes()) + b'{"run_id": "'))
    csv = next(tmp_path.glob("*.csv.gz"))
    with pytest.raises(ValueError, match=rf"{origins.name}:\d+: not JSON"):
        load_origins([csv])
    assert read_done([tmp_path])  # the facts sidecar still says which workloads are done


def test_resume_skips_the_failures_of_an_ingested_folder(tmp_path: Path) -> None:
    # data/h200_graph's real failures.jsonl.gz (ingested, so gzipped): its workloads count as
    # done unless the caller asks to retry them (--retry-failed).
    src = Path(__file__).resolve().parents[2] / "data/h200_graph/failures.jsonl.gz"
    (tmp_path / src.name).write_bytes(src.read_bytes())
    done = read_done([tmp_path])
    attention = json.dumps(["attention_bf16", [2, 8, 8192, 128], "torch.bfloat16", "NVIDIA H200"])
    assert attention in done and len(done) >= 4
    assert read_done([tmp_path], include_failures=False) == set()
