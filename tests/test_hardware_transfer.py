"""benchmarks/hardware_transfer.py on real H100 logs (two shard bases of data/h100).

No H200 data exists yet, so the "target" GPU here is a STAND-IN built from the same H100 logs:
(1) the logs themselves (a bundle must keep all of its quality on identical measurements), and
(2) the same workloads with each workload's measured speeds permuted (the source's fastest config
is then somewhere else, and replaying it must give exactly the permuted value).
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARDS = ("shard0_vm_1016", "shard1_vm_1017")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    from helion_learned.models.bundle import ModelBundle
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs
    from helion_learned.training.origins import load_origins

    logs = [ROOT / "data" / "h100" / f"{base}.csv.gz" for base in SHARDS]
    logset = load_logs(logs)
    ds = build_dataset(logset, origins=load_origins(logset.files))
    assert len(ds.groups) >= 5 and not ds.dropped
    spec = importlib.util.spec_from_file_location("hardware_transfer",
                                                  ROOT / "benchmarks" / "hardware_transfer.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hardware_transfer"] = mod
    spec.loader.exec_module(mod)
    bundle = ModelBundle.load(ROOT / "helion_learned/models/artifacts/triton/cuda_sm90")
    return mod, bundle, ds


def test_identical_measurements_keep_everything(setup) -> None:
    mod, bundle, ds = setup
    result = mod.transfer(bundle, ds, ds)
    assert result["n_matched"] == result["n_target_workloads"] == len(ds.groups)
    assert result["kept"] == pytest.approx(1.0)
    assert result["source_best_replayed"]["geomean"] == pytest.approx(1.0)
    learned, default = result["learned"]["geomean"], result["helion_default"]["geomean"]
    assert result["recommendation"]["fire_on_target"] == (learned > default)


def test_replaying_the_source_best_reads_the_target_measurement(setup) -> None:
    mod, bundle, ds = setup
    target = copy.deepcopy(ds)
    rng = np.random.default_rng(0)
    expected = []
    for g in target.groups:
        src_best = int(np.argmax(g.rel))
        g.rel = g.rel[rng.permutation(len(g.rel))]
        expected.append(float(g.rel[src_best]))
    result = mod.transfer(bundle, ds, target)
    got = sorted(r["source_best_replayed"] for r in result["rows"])
    assert got == pytest.approx(sorted(expected))
    assert result["kept"] < 1.0  # the picks' speeds were scrambled on the "target"
