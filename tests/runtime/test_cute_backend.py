"""Helion's cute backend: candidate grid, cute feature columns, per-backend datasets and bundles,
on real data: facts + fragment defaults bound on an H200 with backend="cute"
(reports/cute/h200_probe.jsonl), the cute logs measured there (data/h200_cute), H100 triton logs."""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helion_learned.features.config import CONFIG_FEATURES
from helion_learned.features.config import TRITON_CONFIG_FEATURES
from helion_learned.features.cute_config import CUTE_CONFIG_FEATURES
from helion_learned.features.facts import KernelFacts
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.bundle import BundleError
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.candidates import MAX_CANDIDATES
from helion_learned.models.candidates import block_choices
from helion_learned.models.candidates import candidate_grid
from helion_learned.models.candidates import structured_grid
from helion_learned.models.predict import Predictor
from helion_learned.training import collect
from helion_learned.training.collect import plan as cp
from helion_learned.training.dataset import Dataset
from helion_learned.training.dataset import build_dataset
from helion_learned.training.dataset import logs_backend
from helion_learned.training.logs import LogSet
from helion_learned.training.logs import Workload
from helion_learned.training.logs import load_logs
from helion_learned.training.logs.origins import load_origins
from helion_learned.training.train import train_bundle

ROOT = Path(__file__).resolve().parents[2]
CUTE_LOGS = ROOT / "data" / "h200_cute"
H100_BASE = ROOT / "data" / "h100" / "shard0_vm_1016"  # 2 triton workloads: add, attention
VARIED = {"block_sizes", "num_threads", "cute_vector_widths", "load_eviction_policies",
          "cute_collective_mma", "reduction_loops"}
VECTOR_16B = {"torch.float32": 4, "torch.float16": 8, "torch.bfloat16": 8}


def _probe() -> list[tuple[str, str, KernelFacts, dict[str, Any]]]:
    out = []
    for line in (ROOT / "reports" / "cute" / "h200_probe.jsonl").read_text().splitlines():
        rec = json.loads(line)
        ref = rec.get("default_config")
        if rec.get("facts") and ref:
            ref = ast.literal_eval(ref) if isinstance(ref, str) else ref
            out.append((rec["family"], rec["dtype"], KernelFacts.from_dict(rec["facts"]), ref))
    return out


PROBE = _probe()
PROBE_IDS = [p[0] for p in PROBE]


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


@pytest.fixture(scope="module")
def cute_logs() -> LogSet:
    return load_logs([CUTE_LOGS])


@pytest.fixture(scope="module")
def fragment_default(cute_logs: LogSet) -> dict[str, dict[str, Any]]:
    """run_id -> the measured config whose id the facts sidecar names as fragment default."""
    ids: dict[str, str] = {}
    for path in sorted(CUTE_LOGS.glob("*.facts.jsonl.gz")):
        for line in gzip.open(path, "rt"):
            rec = json.loads(line)
            ids[rec["run_id"]] = rec["workload"]["fragment_default_config_id"]
    return {w.run_id: next(m.config for m in w.measurements if m.config_id == ids[w.run_id])
            for w in cute_logs.workloads}


@pytest.fixture(scope="module")
def cute_ds(cute_logs: LogSet) -> Dataset:
    return build_dataset(cute_logs, origins=load_origins(cute_logs.files))


@pytest.fixture(scope="module")
def cute_bundle_path(cute_ds: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = train_bundle(cute_ds, params={"n_estimators": 20, "max_depth": 3}, n_jobs=1)
    return result.bundle.save(tmp_path_factory.mktemp("cute") / "bundle")


# -- candidate grid -------------------------------------------------------------------------------
@pytest.mark.parametrize(("family", "dtype", "facts", "ref"), PROBE, ids=PROBE_IDS)
def test_cute_grid_varies_only_cute_knobs_of_the_reference(
        family: str, dtype: str, facts: KernelFacts, ref: dict[str, Any]) -> None:
    assert facts.backend == "cute"
    grid = candidate_grid(facts, reference=ref)
    assert 0 < len(grid) <= MAX_CANDIDATES and grid == candidate_grid(facts, reference=ref)
    assert len({json.dumps(c, sort_keys=True) for c in grid}) == len(grid)  # no duplicates
    same = {k: v for k, v in ref.items() if k not in VARIED}
    for cfg in grid:
        assert set(ref) <= set(cfg) <= set(ref) | {"num_threads"}, cfg  # no num_warps/num_stages
        assert all(_plain(v) for v in cfg.values()), cfg
        assert {k: v for k, v in cfg.items() if k not in VARIED} == same
        for key in ("cute_vector_widths", "load_eviction_policies", "reduction_loops"):
            assert key not in ref or len(cfg[key]) == len(ref[key]), (key, cfg)
        assert len(cfg.get("num_threads", facts.blocks)) == len(cfg["block_sizes"]) == len(facts.blocks)
        assert all(1 <= s <= b.max_size for s, b in zip(cfg["block_sizes"], facts.blocks, strict=True))


@pytest.mark.parametrize(("family", "dtype", "facts", "ref"), PROBE, ids=PROBE_IDS)
def test_cute_grid_varies_what_each_kind_needs(
        family: str, dtype: str, facts: KernelFacts, ref: dict[str, Any]) -> None:
    grid = candidate_grid(facts, reference=ref, max_candidates=10**6)
    want = VECTOR_16B[dtype]  # 16-byte vectors
    if facts.kind == "matmul":
        assert {c["cute_collective_mma"] for c in grid} == {False, True}
        assert not any("num_threads" in c for c in grid) or "num_threads" in ref
    if facts.num_reduction_loops:
        extent = facts.reduction_loop_extents[0]  # persistent, or chunks shorter than the extent
        assert {c["reduction_loops"][0] for c in grid} == {None, *[
            v for v in (128, 512, 2048) if v < extent]}
        slot = len(facts.blocks)  # vector widths: one per block, then the reduction dimension
        assert {c["cute_vector_widths"][slot] for c in grid} >= {1, want}
    if facts.kind != "pointwise":
        return
    one_vector_per_thread = False
    for cfg in grid:
        wide = [i for i, v in enumerate(cfg["cute_vector_widths"]) if v > 1]
        threads = [i for i, t in enumerate(cfg["num_threads"]) if t]
        assert len(wide) <= 1 and set(threads) <= set(wide), cfg  # both on the contiguous block
        for i in threads:
            tile, vec, nt = cfg["block_sizes"][i], cfg["cute_vector_widths"][i], cfg["num_threads"][i]
            assert 32 <= nt <= 1024 and nt in (tile // vec, tile // (2 * vec)), cfg
            one_vector_per_thread |= vec == want and nt == tile // vec
    assert one_vector_per_thread, f"{family}: no {want}-wide vectors with tile/vector threads"
    assert max(max(c["cute_vector_widths"]) for c in grid) == want
    contig = next(i for c in grid for i, v in enumerate(c["cute_vector_widths"]) if v > 1)
    b = facts.blocks[contig]  # its tiles go up to 4096 (CUTE_CONTIGUOUS_CAP)
    assert max(c["block_sizes"][contig] for c in grid) == min(
        4096, b.max_size, 1 << (b.size_hint - 1).bit_length())
    assert {c["load_eviction_policies"][0] for c in grid} == {"", "l2_last"}


def test_block_choices_never_exceed_max_size_on_recorded_facts(cute_logs: LogSet) -> None:
    facts = [f for _, _, f, _ in PROBE] + [w.facts for w in cute_logs.workloads]
    gemv = [(f, b) for f in facts for b in f.blocks
            if f.kind == "matmul" and b.role == "m" and b.max_size == 1]
    assert len(gemv) >= 4, "expected recorded 1-row matmuls (matmul [(1, 4096), (4096, 4096)])"
    for f, b in gemv:  # the 16-row tensor-core floor never beats a hard maximum of 1
        assert block_choices(b, f.kind) == [1]
        assert {c["block_sizes"][f.blocks.index(b)] for c in structured_grid(f)} == {1}
    for values, b in ((block_choices(b, f.kind), b) for f in facts for b in f.blocks):
        assert values and all(1 <= v <= b.max_size and v & (v - 1) == 0 for v in values), b


def test_triton_grid_is_unchanged_by_candidate_grid() -> None:
    workloads = load_logs([H100_BASE]).workloads
    assert workloads and all(w.facts.backend == "triton" for w in workloads)
    for w in workloads:
        expected = structured_grid(w.facts)
        assert expected and candidate_grid(w.facts) == expected
        # A reference (cute's fragment defaults) must not leak into a triton grid.
        assert candidate_grid(w.facts, reference={"block_sizes": [1], "x": 1}) == expected
        assert candidate_grid(w.facts, limit=7, seed=3) == structured_grid(w.facts, limit=7, seed=3)


def test_matmul_grid_configs_measured_on_h200_are_still_ranked(
        cute_logs: LogSet, fragment_default: dict[str, dict]) -> None:
    """The collector's grid, built on the recorded fragment default, is the grid the adapter
    ranks: every grid config measured on a cute matmul is one of today's candidates."""
    origins, n_checked = load_origins(cute_logs.files), 0
    for w in (w for w in cute_logs.workloads if w.facts.kind == "matmul"):
        grid = candidate_grid(w.facts, reference=fragment_default[w.run_id], max_candidates=10**6)
        for m in w.measurements:
            if "grid" in origins.get((w.run_id, m.config_id), "").split("|"):
                n_checked += 1
                assert m.config in grid, (w.kernel_name, w.input_shapes, m.config)
    assert n_checked >= 150


def test_embedding_grid_vectorizes_the_embedding_dim(cute_logs: LogSet,
                                                     fragment_default: dict[str, dict]) -> None:
    for w in (w for w in cute_logs.workloads if w.kernel_name == "embedding"):
        best = min((m for m in w.measurements if m.status == "ok"), key=lambda m: m.perf_ms)
        assert int(np.argmax(best.config["cute_vector_widths"])) == 1  # recorded: embedding dim
        for cfg in candidate_grid(w.facts, reference=fragment_default[w.run_id]):
            assert cfg["cute_vector_widths"][0] == 1, (w.input_shapes, cfg)


# -- features -------------------------------------------------------------------------------------
def test_cute_columns_follow_triton_list_on_recorded_cute_configs(cute_logs: LogSet) -> None:
    cute, triton = FeatureExtractor(backend="cute"), FeatureExtractor()
    assert FeatureExtractor(backend="triton").feature_names == triton.feature_names
    # Both share every column but their backend's own, which go last (triton's: cfg_flatten).
    shared = tuple(f for f in triton.feature_names if f not in TRITON_CONFIG_FEATURES)
    assert triton.feature_names == (*shared, *TRITON_CONFIG_FEATURES)
    assert cute.feature_names == (*shared, *CUTE_CONFIG_FEATURES)
    n = len(shared)
    assert n == 90 and set(CONFIG_FEATURES) <= set(shared)
    col = {name: j for j, name in enumerate(cute.feature_names)}
    blocks = []
    for w in cute_logs.workloads:
        configs = [m.config for m in w.measurements]
        X = cute.transform(w.facts, w.hardware_facts, configs)
        np.testing.assert_array_equal(X[:, :n],
                                      triton.transform(w.facts, w.hardware_facts, configs)[:, :n])
        vec = [math.log2(max(c["cute_vector_widths"])) for c in configs]
        np.testing.assert_array_equal(X[:, col["cfg_cute_vector_log2"]], np.float32(vec))
        for row, c in enumerate(configs):  # threads per CTA: the per-block counts multiply
            if c.get("num_threads") and all(c["num_threads"]):
                assert X[row, col["cfg_cute_threads_log2"]] == math.log2(math.prod(c["num_threads"]))
        blocks.append(X[:, n:])
    cols = np.concatenate(blocks)
    distinct = {name: set(np.unique(cols[:, j][np.isfinite(cols[:, j])]).tolist())
                for j, name in enumerate(CUTE_CONFIG_FEATURES)}
    for j, name in enumerate(CUTE_CONFIG_FEATURES):  # threads: NaN = Helion picks the count
        assert name == "cfg_cute_threads_log2" or np.isfinite(cols[:, j]).all(), name
    assert len(distinct["cfg_cute_vector_log2"]) > 2 and len(distinct["cfg_cute_threads_log2"]) > 2
    assert {0.0, 1.0} <= distinct["cfg_cute_evict_last"]
    assert distinct["cfg_cute_collective_mma"] == {0.0, 1.0}


# -- datasets, training, bundles ------------------------------------------------------------------
def test_dataset_backend_comes_from_the_logs(cute_logs: LogSet, cute_ds: Dataset) -> None:
    assert logs_backend(cute_logs) == "cute" and cute_ds.backend == "cute"
    assert cute_ds.feature_names == FeatureExtractor(backend="cute").feature_names
    assert cute_ds.X.shape == (len(cute_ds.y), len(cute_ds.feature_names))
    assert len(cute_ds.groups) == len(cute_logs.workloads) == 36 and not cute_ds.dropped
    with pytest.raises(ValueError, match="--backend cute"):
        build_dataset(cute_logs, backend="triton")
    with pytest.raises(ValueError, match="--backend"):
        build_dataset(cute_logs, extractor=FeatureExtractor())
    with pytest.raises(ValueError, match="--backend cute"):
        train_bundle(cute_ds, backend="triton")
    mixed = load_logs([CUTE_LOGS, H100_BASE])  # + one H100 triton log base
    assert {w.facts.backend for w in mixed.workloads} == {"cute", "triton"}
    for refuse in (logs_backend, build_dataset):
        with pytest.raises(ValueError, match="mix Helion backends"):
            refuse(mixed)
    assert logs_backend(load_logs([H100_BASE])) == "triton"


def test_dataset_subset_keeps_backend(cute_ds: Dataset) -> None:
    sub = cute_ds.subset([0, 1, 2, 3])
    assert sub.feature_names == cute_ds.feature_names and sub.backend == "cute"


def test_cute_bundle_round_trip(cute_bundle_path: Path, tmp_path: Path) -> None:
    bundle = ModelBundle.load(cute_bundle_path)
    names = list(FeatureExtractor(backend="cute").feature_names)
    assert bundle.backend == "cute" and bundle.name == "learned_cute_sm90"
    assert bundle.metadata["feature_names"] == names
    assert bundle.model.booster_.num_features() == len(names)
    assert bundle.metadata["training_data"]["hardware"] == ["NVIDIA H200"]
    shutil.copytree(cute_bundle_path, edited := tmp_path / "as_triton")
    meta = json.loads((edited / "metadata.json").read_text())
    (edited / "metadata.json").write_text(json.dumps({**meta, "backend": "triton"}))
    with pytest.raises(BundleError, match="feature names differ"):
        ModelBundle.load(edited)


@pytest.mark.parametrize(("kernel", "shapes"), [("add", "[(4096, 4096), (4096, 4096)]"),
                                              ("matmul", "[(1, 4096), (4096, 4096)]"),
                                              ("row_sum", "[(1000, 3000)]")])
def test_cute_predictor_ranks_cute_configs(kernel: str, shapes: str, cute_logs: LogSet,
                                           fragment_default: dict[str, dict],
                                           cute_bundle_path: Path) -> None:
    w: Workload = next(w for w in cute_logs.workloads
                       if w.kernel_name == kernel and w.input_shapes == shapes)
    hw, ref, bundle = w.hardware_facts, fragment_default[w.run_id], ModelBundle.load(cute_bundle_path)
    assert hw is not None and hw.name == "NVIDIA H200" and bundle.matches(hw)
    pred, again = (Predictor(bundle).predict(w.facts, hw, reference=ref, extra_candidates=[ref],
                                             top_k=5) for _ in range(2))
    grid = candidate_grid(w.facts, reference=ref)
    assert pred.n_candidates == len(grid) + (ref not in grid)
    assert len(pred.configs) == 5 and pred.configs == again.configs and pred.scores == again.scores
    assert pred.scores == sorted(pred.scores, reverse=True)
    for cfg in pred.configs:
        assert (cfg in grid or cfg == ref) and "cute_vector_widths" in cfg and "num_warps" not in cfg
        assert all(_plain(v) for v in cfg.values()), cfg
    assert 0.0 <= pred.confidence <= 1.0


# -- collection size caps -------------------------------------------------------------------------
def test_parse_size_cap_and_over_size_cap() -> None:
    assert cp.parse_size_cap("add_fp32=1000") == ("add_fp32", 1000.0)
    for bad in ("", "*matmul*", "=5e9", "*matmul*=", "*matmul*=big", "*matmul*=0",
                "*matmul*=-1", "*matmul*=nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="FAMILY_GLOB=PRODUCT"):
            cp.parse_size_cap(bad)
    caps = [cp.parse_size_cap("*matmul*=5e9")]
    assert caps == [("*matmul*", 5e9)]
    assert cp.over_size_cap(("matmul_fp16", (512, 4096, 14336)), caps)
    assert cp.over_size_cap(("broadcast_matmul_bf16", (1, 1, 4096, 2_000_000)), caps)
    assert not cp.over_size_cap(("matmul_fp16", (1, 4096, 4096)), caps)
    assert not cp.over_size_cap(("matmul_fp16", (5, 1000, 1_000_000)), caps)  # == cap: kept
    assert not cp.over_size_cap(("add_fp32", (16384, 8192, 8192)), caps)  # glob does not match
    assert not cp.over_size_cap(("matmul_fp16", (512, 4096, 14336)), [])


def test_max_shape_product_flag_skips_big_shapes(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from helion_learned.training.collect.options import plan_items

    base = ["--out", str(tmp_path), "--families", "matmul_fp16", "add_fp32"]
    caps = ["--max-shape-product", "*matmul*=5e9", "--max-shape-product", "nothing_*=1"]
    opts = collect.options_from_args(collect.build_parser().parse_args(base + caps))
    assert opts.max_shape_product == [("*matmul*", 5e9), ("nothing_*", 1.0)]
    everything = plan_items(collect.options_from_args(collect.build_parser().parse_args(base)),
                            "NVIDIA H200")[0]
    capped = plan_items(opts, "NVIDIA H200")[0]
    dropped = {(i.family, i.shape) for i in everything} - {(i.family, i.shape) for i in capped}
    assert dropped == {(i.family, i.shape) for i in everything
                       if i.family == "matmul_fp16" and math.prod(i.shape) > 5e9}
    assert dropped and any(i.family == "matmul_fp16" for i in capped)
    with pytest.raises(SystemExit):
        collect.build_parser().parse_args([*base, "--max-shape-product", "*matmul*"])
    assert "FAMILY_GLOB=PRODUCT" in capsys.readouterr().err
