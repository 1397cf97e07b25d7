"""A real Helion autotune on CPU with helion_learned installed: the learned seed is in the initial
population, and the facts sidecar joins Helion's own CSV on run_id."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import helion
import pytest
import torch

import helion_learned
from helion_learned.training.logs import parse_config_repr
from helion_learned.training.suite import kernels as K
from helion_learned.training.suite.interpret import apply_cpu_patches
from tests._bundles import make_bundle
from tests._cpu_autotune import CPU_AUTOTUNE_SETTINGS


@pytest.fixture(scope="module")
def autotuned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    apply_cpu_patches()
    root = tmp_path_factory.mktemp("autotune")
    make_bundle(root / "bundle", threshold=0.0)
    helion_learned.install(target="sm90", model_dirs=[root / "bundle"], top_k=2)
    try:
        base = root / "log"
        kernel = helion.kernel(K.add.fn, static_shapes=True, autotune_effort="quick",
                               autotune_log=str(base), autotune_log_details=True,
                               autotune_max_generations=1, **CPU_AUTOTUNE_SETTINGS)
        x, y = torch.randn(64, 48), torch.randn(64, 48)
        out = kernel(x, y)
        bound = kernel.bind((x, y))
        seeds = [dict(s.config) for s in bound.env.config_spec.compiler_seed_configs]
        fired = list(bound.env.config_spec.autotuner_heuristics)
    finally:
        helion_learned.uninstall()
    return {"base": base, "out": out, "expected": x + y, "seeds": seeds, "fired": fired}


def _csv_rows(base: Path) -> list[dict[str, str]]:
    with open(f"{base}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_autotune_result_is_correct(autotuned: dict) -> None:
    torch.testing.assert_close(autotuned["out"], autotuned["expected"])
    assert "learned_triton_sm90" in autotuned["fired"]


def test_learned_seed_is_in_initial_population(autotuned: dict) -> None:
    rows = [r for r in _csv_rows(autotuned["base"]) if r["generation"] == "0" and r["status"] == "ok"]
    assert rows, "Helion logged no generation-0 results"
    initial = [parse_config_repr(r["config"]) for r in rows]
    learned = [s for s in autotuned["seeds"]]
    assert learned
    decided = ("block_sizes", "num_warps", "num_stages")
    hits = [s for s in learned
            if any(all(c.get(k) == s.get(k) for k in decided if k in s) for c in initial)]
    assert hits, f"no learned seed {learned} among initial configs {initial}"


def test_sidecar_run_id_joins_helion_csv(autotuned: dict) -> None:
    csv_ids = {r["run_id"] for r in _csv_rows(autotuned["base"])}
    records = [json.loads(line) for line in Path(f"{autotuned['base']}.facts.jsonl").read_text().splitlines()]
    assert records and {r["run_id"] for r in records} == csv_ids
    meta = [json.loads(line) for line in Path(f"{autotuned['base']}.meta.jsonl").read_text().splitlines()]
    assert {m["run_id"] for m in meta} == csv_ids
    assert records[0]["facts"]["kernel_name"] == "add"
