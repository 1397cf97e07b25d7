"""The feasibility rules (features.feasibility: shared memory, threads per matmul output element,
registers of attention-style dot chains and of dots in a k loop) on real bound kernels and the
real H100 logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helion_learned.features.config import config_columns
from helion_learned.features.feasibility import CHAINED_DOT_REGISTER_LIMIT
from helion_learned.features.feasibility import LOOPED_DOT_REGISTER_LIMIT
from helion_learned.features.feasibility import SMEM_OVER_CAPACITY_LIMIT
from helion_learned.features.feasibility import THREADS_PER_TILE_ELEMENT_LIMIT
from helion_learned.features.feasibility import chained_dot_registers
from helion_learned.features.feasibility import dot_operands
from helion_learned.features.feasibility import feasible
from helion_learned.features.feasibility import looped_dot_registers
from helion_learned.features.feasibility import pick_index
from helion_learned.features.feasibility import ranked_subset
from helion_learned.features.feasibility import smem_over_capacity
from helion_learned.features.feasibility import threads_per_tile_element
from helion_learned.features.hardware import resolve_target
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.predict import Predictor
from helion_learned.training.suite import kernels as K
from tests._bundles import bound_facts
from tests._bundles import make_bundle

H100 = resolve_target("h100")
BF16 = torch.bfloat16
DATA = Path(__file__).resolve().parents[2] / "data" / "h100"


def _attention_facts(head_dim: int):
    K.attention.reset()
    q = torch.randn(2, 8, 1024, head_dim, dtype=BF16)
    return bound_facts(K.attention, (q, q.clone(), q.clone()))


def _attention_cfg(stages: int) -> dict:
    # Helion 1.5.0's own attention seed (triton_h100_multi_matmul) with `stages` stages.
    return {"block_sizes": [1, 64, 512], "num_warps": 8, "num_stages": stages}


def test_helion_attention_seed_ruled_out_where_it_fails_or_crawls() -> None:
    # In the H100 logs this seed fails at head dim 128 with 3 stages (A+B reading 1.9x the 227 KiB
    # per block); at head dim 64 it runs at 0.27 of the best, and with 1 stage at head dim 128 at
    # 0.31-0.33 on the H200: the K+V reading (1.7x and 1.2x) rules both out since stop 20.
    d128, d64 = _attention_facts(128), _attention_facts(64)
    assert feasible(d128, H100, [_attention_cfg(3), _attention_cfg(1)]).tolist() == [False, False]
    assert feasible(d64, H100, [_attention_cfg(3)]).tolist() == [False]
    # A 64 x 128 tile with 2 stages stays in at both head dims (K+V reading at most 0.63x).
    small = {"block_sizes": [1, 64, 128], "num_warps": 4, "num_stages": 2}
    assert feasible(d128, H100, [small]).tolist() == feasible(d64, H100, [small]).tolist() == [True]


def test_attention_k_and_v_reading_rules_out_the_held_out_h200_failures() -> None:
    # Held out, attention picked a 128 x 256 tile with 4 stages at head dim 64 on the H200
    # (data/h200): 0.85x by the A+B reading, 1.2x with K and V streamed; it fails there.
    d64 = _attention_facts(64)
    pick = {"block_sizes": [1, 128, 256], "num_warps": 4, "num_stages": 4}
    assert feasible(d64, H100, [pick]).tolist() == [False]


def _k_loop_gemms():
    """Facts of three k-loop GEMMs bound at 256 x 512 x 1024: linear_swiglu (two dots, two
    outputs), int4_gemm (two dots over a packed uint8 B, one output) and a plain matmul."""
    x = torch.randn(256, 512, dtype=BF16)
    K.linear_swiglu.reset()
    swiglu = bound_facts(K.linear_swiglu, (x, torch.randn(512, 1024, dtype=BF16),
                                           torch.randn(512, 1024, dtype=BF16)))
    K.int4_gemm.reset()
    int4 = bound_facts(K.int4_gemm, (x, torch.randint(0, 255, (256, 1024), dtype=torch.uint8),
                                     torch.randn(1024, dtype=BF16)))
    K.matmul.reset()
    mm = bound_facts(K.matmul, (x, torch.randn(512, 1024, dtype=BF16)))
    return swiglu, int4, mm


def test_dots_on_one_k_loop_count_their_own_tiles() -> None:
    # Held out on the H100 (data/h100_new), linear_swiglu (x @ w_gate and x @ w_up in one k loop)
    # and int4_gemm (two dots over even and odd k, B loaded packed as uint8) picked a 128 x 256 x
    # 64 tile with 4 stages: 192 KiB by the A + B reading, 384 / 256 KiB counting each dot's
    # tiles (B at 8 bits for int4); both failed there. A plain matmul keeps the tile; int4 keeps
    # it at 3 stages (192 KiB; it ran at 0.93 of the best).
    swiglu, int4, mm = _k_loop_gemms()
    assert (dot_operands(swiglu), dot_operands(int4), dot_operands(mm)) == (
        (2, None), (2, 8.0), (1, None))
    pick = {"block_sizes": [128, 256, 64], "num_warps": 8, "num_stages": 4}
    small = {"block_sizes": [64, 128, 64], "num_warps": 4, "num_stages": 3}  # 144 KiB for swiglu
    assert feasible(swiglu, H100, [pick, small]).tolist() == [False, True]
    assert feasible(mm, H100, [pick, small]).tolist() == [True, True]
    assert feasible(int4, H100, [pick, {**pick, "num_stages": 3}]).tolist() == [False, True]
    # The model's feature keeps one B tile, as it was trained.
    ex = FeatureExtractor()
    smem = ex.transform(swiglu, H100, [pick])[0, ex.feature_names.index("d_smem_kb")]
    assert smem == pytest.approx(192.0)


def test_kernels_without_a_matmul_keep_every_config() -> None:
    K.softmax.reset()
    facts = bound_facts(K.softmax, (torch.randn(64, 4096),))
    cfgs = [{"block_sizes": [1], "num_warps": w, "num_stages": 4} for w in (4, 8, 16)]
    assert feasible(facts, H100, cfgs).all()


def test_matmul_k_block_estimate_is_the_model_feature() -> None:
    K.matmul.reset()
    facts = bound_facts(K.matmul, (torch.randn(1024, 512, dtype=BF16),
                                   torch.randn(512, 1024, dtype=BF16)))
    cfgs = [{"block_sizes": [256, 256, 128], "num_warps": 8, "num_stages": 4},  # 512 KiB
            {"block_sizes": [128, 128, 64], "num_warps": 4, "num_stages": 3}]  # 96 KiB
    ex = FeatureExtractor()
    X = ex.transform(facts, H100, cfgs)
    over = X[:, ex.feature_names.index("d_smem_over_capacity")]
    assert feasible(facts, H100, cfgs).tolist() == (over < SMEM_OVER_CAPACITY_LIMIT).tolist()
    assert feasible(facts, H100, cfgs).tolist() == [False, True]
    # Attention's whole-head-dim estimate stays out of the model's features (as it was trained).
    att = ex.transform(_attention_facts(128), H100, [_attention_cfg(3)])
    assert np.isnan(att[0, ex.feature_names.index("d_smem_kb")])


def test_none_feasible_ranks_all() -> None:
    assert ranked_subset(np.array([False, False])).tolist() == [0, 1]
    assert ranked_subset(np.array([False, True, True])).tolist() == [1, 2]
    assert pick_index(np.array([3.0, 1.0, 2.0]), np.array([False, True, True])) == 2
    assert pick_index(np.array([3.0, 1.0]), np.array([False, False])) == 0


def test_predictor_never_returns_a_ruled_out_config(tmp_path: Path) -> None:
    path = tmp_path / "bundle"
    make_bundle(path, threshold=0.0)
    facts = _attention_facts(128)
    pred = Predictor(ModelBundle.load(path)).predict(
        facts, H100, top_k=400, extra_candidates=[_attention_cfg(3)])
    assert pred.configs and feasible(facts, H100, pred.configs).all()
    assert _attention_cfg(3) not in pred.configs


@pytest.fixture(scope="module")
def h100_logs():
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs

    return build_dataset(load_logs([DATA]))


def _smem_out(g) -> np.ndarray:
    """The shared-memory rule alone (``feasible`` also holds the threads and register rules)."""
    over = smem_over_capacity(g.facts, g.hw, config_columns(g.facts, g.configs))
    if over is None:
        return np.zeros(len(g.configs), dtype=bool)
    with np.errstate(invalid="ignore"):
        return over >= SMEM_OVER_CAPACITY_LIMIT


def test_ruled_out_configs_mostly_fail_in_the_h100_logs(h100_logs) -> None:
    out = np.concatenate([_smem_out(g) for g in h100_logs.groups])
    rel = np.concatenate([g.rel for g in h100_logs.groups])
    assert out.sum() >= 100
    assert (rel[out] <= 0).mean() >= 0.65  # 0.67 on the committed logs (353 configs)
    assert (rel[out] >= 1 / 1.05).sum() <= 2  # one near-best config is ruled out (of 24,749)
    # Of those that ran, all but a few crawl: under half their workload's best (11 above).
    best = np.concatenate([g.rel / g.rel.max() for g in h100_logs.groups])
    assert ((rel[out] > 0) & (best[out] > 0.5)).sum() <= 14
    seeds = [(g.facts.matmuls[0]["k"], r > 0) for g in h100_logs.groups if g.family == "attention"
             for c, r in zip(g.configs, g.rel, strict=True)
             if {k: c.get(k) for k in ("block_sizes", "num_warps", "num_stages")}
             == _attention_cfg(3)]
    assert seeds and all(not ran for k, ran in seeds if k == 128)


def test_threads_rule_rules_out_idle_programs_of_a_matmul_tile() -> None:
    K.matmul.reset()
    facts = bound_facts(K.matmul, (torch.randn(64, 8192, dtype=BF16),
                                   torch.randn(8192, 64, dtype=BF16)))
    cfgs = [{"block_sizes": [16, 1, 512], "num_warps": 32, "num_stages": 1},  # 64 per element
            {"block_sizes": [16, 8, 64], "num_warps": 16, "num_stages": 1},  # 4: kept
            {"block_sizes": [16, 8, 64], "num_warps": 32, "num_stages": 1},  # 8: kept (not above)
            {"block_sizes": [16, 4, 64], "num_warps": 32, "num_stages": 1},  # 16
            {"block_sizes": [64, 64, 64], "num_warps": 4, "num_stages": 3}]
    ratio = threads_per_tile_element(facts, config_columns(facts, cfgs))
    assert ratio.tolist() == [64.0, 4.0, 8.0, 16.0, 0.03125]
    assert feasible(facts, H100, cfgs).tolist() == [False, True, True, False, True]
    K.softmax.reset()  # no matmul tile: no reading, every config kept
    soft = bound_facts(K.softmax, (torch.randn(64, 4096),))
    one = [{"block_sizes": [1], "num_warps": 32, "num_stages": 1}]
    assert threads_per_tile_element(soft, config_columns(soft, one)) is None
    assert feasible(soft, H100, one).all()


def _ruled_out_outcomes(groups, reading, ruled_out) -> tuple[np.ndarray, list[bool]]:
    """Over the logged workloads a rule reads: the relative speed (to the workload's best) of
    every config it rules out, and per workload whether a best config is kept."""
    out_rel, kept_best = [], []
    for g in groups:
        values = reading(g.facts, config_columns(g.facts, g.configs))
        if values is None:
            continue
        with np.errstate(invalid="ignore"):
            out = ruled_out(values)
        best = g.rel / g.rel.max() if g.rel.max() > 0 else g.rel
        out_rel.append(best[out])
        kept_best.append(bool((best[~out] >= 1.0).any()))
    return np.concatenate(out_rel), kept_best


@pytest.mark.parametrize("reading,ruled_out", [
    # 113 configs on the committed logs (the fastest at 0.60 of its best)
    (threads_per_tile_element, lambda r: r > THREADS_PER_TILE_ELEMENT_LIMIT),
    # 142 attention configs on the committed logs, the fastest at 0.64
    (chained_dot_registers, lambda r: r >= CHAINED_DOT_REGISTER_LIMIT),
], ids=["threads", "registers"])
def test_rule_never_removes_a_fast_config_in_the_h100_logs(h100_logs, reading, ruled_out) -> None:
    # Configs a rule rules out: none within 0.8 of its workload's best, and every workload the
    # rule reads keeps its best config.
    out_rel, kept_best = _ruled_out_outcomes(h100_logs.groups, reading, ruled_out)
    assert out_rel.size >= 50
    assert (out_rel < 0.8).all()
    assert kept_best and all(kept_best)


def test_attention_tiles_that_spill_registers_are_ruled_out() -> None:
    # Score tile m x n plus output tile m x head_dim, fp32, per thread: 256 or more spill.
    facts = _attention_facts(128)
    cfgs = [{"block_sizes": [1, 128, 128], "num_warps": 4, "num_stages": 1},  # 256: held-out pick
            {"block_sizes": [1, 256, 256], "num_warps": 8, "num_stages": 1},  # 384
            {"block_sizes": [1, 128, 128], "num_warps": 8, "num_stages": 1},  # 128
            {"block_sizes": [1, 64, 128], "num_warps": 4, "num_stages": 1}]  # 128: the best
    regs = chained_dot_registers(facts, config_columns(facts, cfgs))
    assert regs.tolist() == [256.0, 384.0, 128.0, 128.0]
    assert feasible(facts, H100, cfgs).tolist() == [False, False, True, True]
    K.matmul.reset()  # a k block: not a whole-k dot chain, no reading
    mm = bound_facts(K.matmul, (torch.randn(256, 256, dtype=BF16), torch.randn(256, 256, dtype=BF16)))
    one = [{"block_sizes": [64, 64, 64], "num_warps": 4, "num_stages": 1}]
    assert chained_dot_registers(mm, config_columns(mm, one)) is None


def test_evaluation_picks_skip_ruled_out_configs(h100_logs) -> None:
    from helion_learned.training.evaluate import group_outcomes

    ds = h100_logs
    # Scores that prefer exactly the ruled-out configs: every pick must still be a feasible one.
    scores = np.concatenate([np.where(g.feasible, 0.0, 1.0) + 1e-3 * np.arange(len(g.configs))
                             for g in ds.groups])
    order = np.concatenate([ds.rows(i) for i in range(len(ds.groups))])
    s = np.empty_like(scores)
    s[order] = scores
    outcomes = group_outcomes(ds, s)
    touched = [o for o in outcomes if not ds.groups[o.group].feasible.all()]
    assert touched and all(ds.groups[o.group].feasible[o.pick] for o in outcomes)


def test_cute_logs_keep_every_config() -> None:
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs

    cute = build_dataset(load_logs([DATA.parent / "h200_cute"]))
    assert cute.backend == "cute" and cute.groups
    assert all(g.feasible.all() for g in cute.groups)


def test_dots_in_a_k_loop_count_one_accumulator_tile_per_output() -> None:
    # linear_swiglu keeps two m x n accumulators (gate and up); held out on the H100 it picked
    # 128 x 256 tiles with 8 warps (2 x 128 per thread: 0.13 and 0.18 of the best). A single
    # matmul keeps that tile; int4_gemm's two dots over a packed B add into one accumulator.
    swiglu, int4, mm = _k_loop_gemms()
    cfgs = [{"block_sizes": [128, 256, 32], "num_warps": 8, "num_stages": 2},  # 80 KiB for swiglu
            {"block_sizes": [128, 128, 32], "num_warps": 8, "num_stages": 2},
            {"block_sizes": [128, 256, 32], "num_warps": 4, "num_stages": 2}]
    reading = {name: looped_dot_registers(f, config_columns(f, cfgs)).tolist()
               for name, f in (("swiglu", swiglu), ("matmul", mm), ("int4", int4))}
    assert reading == {"swiglu": [256.0, 128.0, 512.0], "matmul": [128.0, 64.0, 256.0],
                       "int4": [128.0, 64.0, 256.0]}
    assert feasible(swiglu, H100, cfgs).tolist() == [False, True, False]
    assert feasible(mm, H100, cfgs).tolist() == [True, True, False]
    assert feasible(int4, H100, cfgs).tolist() == [True, True, False]
    # Attention (no k block) is the whole-k rule's, not this one's.
    assert looped_dot_registers(_attention_facts(64), config_columns(
        _attention_facts(64), [{"block_sizes": [1, 64, 64], "num_warps": 4}])) is None


def test_looped_dot_rule_never_removes_a_fast_config_in_the_h100_logs(h100_logs) -> None:
    # data/h100 and data/h100_new: 48 configs the other rules keep (2026-12-08), the fastest at 0.46 of its
    # workload's best, and every workload the rule reads keeps its best config.
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs

    new_logs = build_dataset(load_logs([DATA.parent / "h100_new"]))
    out_rel, kept_best = _ruled_out_outcomes([*h100_logs.groups, *new_logs.groups],
                                             looped_dot_registers,
                                             lambda r: r >= LOOPED_DOT_REGISTER_LIMIT)
    assert out_rel.size >= 40
    assert (out_rel < 0.5).all()
    assert kept_best and all(kept_best)
