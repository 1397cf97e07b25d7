"""The learned heuristic inside real Helion binds (kernels bound and run on CPU via the interpreter)."""

from __future__ import annotations

import logging
from pathlib import Path

import helion
import pytest
import torch
from helion._compiler import autotuner_heuristics as ah

import helion_learned
from helion_learned.training.suite import kernels as K
from tests._bundles import make_bundle

F16 = torch.float16


@pytest.fixture(scope="module")
def confident_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundles") / "confident"
    make_bundle(path, threshold=0.0)  # fires whenever it can predict
    return path


@pytest.fixture(scope="module")
def shy_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundles") / "shy"
    make_bundle(path, threshold=1.01)  # confidence never reaches it
    return path


@pytest.fixture(autouse=True)
def clean_registry():
    before = dict(ah.HEURISTICS_BY_BACKEND)
    for k in (K.matmul, K.softmax, K.add, K.layer_norm):
        k.reset()
    yield
    helion_learned.uninstall()
    assert ah.HEURISTICS_BY_BACKEND == before


def _matmul_args(m: int = 384, k: int = 192, n: int = 640):
    return torch.randn(m, k, dtype=F16), torch.randn(k, n, dtype=F16)


def _bind(kernel, args):
    bound = kernel.bind(args)
    return bound, bound.env.config_spec


def test_fires_when_confident(confident_bundle: Path) -> None:
    helion_learned.install(target="sm90", model_dirs=[confident_bundle], top_k=2)
    _bound, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics
    seeds = [s for s in cs.compiler_seed_configs if s.config.get("l2_groupings") is not None]
    assert seeds, cs.compiler_seed_configs
    for seed in cs.compiler_seed_configs:
        for value in seed.config["block_sizes"]:
            assert type(value) is int  # numpy ints break Helion's cache key
    # Every learned seed survives Helion's own transfer path unchanged in the decided fields.
    gen = cs.create_config_generation()
    for seed in seeds:
        _, normalized = gen.canonicalize_flat(gen.flatten(seed))
        assert normalized.config["block_sizes"] == seed.config["block_sizes"]


@pytest.mark.parametrize("kernel,args", [
    (K.softmax, (torch.randn(64, 512),)),
    (K.layer_norm, (torch.randn(32, 1000), torch.randn(1000), torch.randn(1000))),
    (K.add, (torch.randn(256, 300), torch.randn(256, 300))),
])
def test_fires_on_other_kernel_families(confident_bundle: Path, kernel, args) -> None:
    helion_learned.install(target="sm90", model_dirs=[confident_bundle])
    _, cs = _bind(kernel, args)
    assert "learned_triton_sm90" in cs.autotuner_heuristics
    assert len(cs.compiler_seed_configs) >= 1


def _learned_seeds(heuristic, bound) -> list[dict]:
    """The configs our heuristic handed Helion for this bind (in Helion's seed list)."""
    return [dict(c.config) for c in heuristic.get_seed_configs(bound.env, None) or []]


def test_seeds_without_promotion_confidence(shy_bundle: Path) -> None:
    # Seeding is ungated: a confidence that never reaches the threshold still seeds the top-k
    # (deduplicated against Helion's own seeds), but the pick is not promoted.
    (heuristic, *_) = helion_learned.install(target="sm90", model_dirs=[shy_bundle])
    bound, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics
    cached = heuristic._cache[bound.env]
    assert not heuristic.confident(cached)
    ours = [dict(s.config) for s in heuristic.get_seed_configs(bound.env, None)]
    assert len(ours) == helion_learned.adapter.DEFAULT_TOP_K
    seeds = [dict(s.config) for s in cs.compiler_seed_configs]
    assert all(any(_same_decisions(o, s) for s in seeds) for o in ours), (ours, seeds)
    assert cs.compiler_default_config is None  # nothing promoted on CPU: Helion's default runs
    gen = cs.create_config_generation()
    keys = [repr(gen.canonicalize_flat(gen.flatten(helion.Config(**c)))[0]) for c in ours]
    assert len(set(keys)) == len(keys)  # no seed twice
    helion_keys = {repr(gen.canonicalize_flat(gen.flatten(helion.Config(**c)))[0])
                   for c in cached.helion}
    assert not set(keys[1:]) & helion_keys  # slots after the pick go to configs Helion lacks


def _same_decisions(ours: dict, seed: dict) -> bool:
    return all(seed.get(k) == v for k, v in ours.items())


def test_promotes_only_when_confident(confident_bundle: Path, shy_bundle: Path) -> None:
    (heuristic, *_) = helion_learned.install(target="sm90", model_dirs=[confident_bundle])
    bound, cs = _bind(K.matmul, _matmul_args())
    pick = heuristic._cache[bound.env].prediction.configs[0]
    assert cs.compiler_default_config is not None
    assert _same_decisions(pick, dict(cs.compiler_default_config.config))
    assert _same_decisions(pick, dict(cs.default_config().config))  # autotune off runs the pick
    # promote=False opts out: same seeds, nothing promoted.
    K.matmul.reset()
    helion_learned.install(target="sm90", model_dirs=[confident_bundle], promote=False)
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics
    assert cs.compiler_default_config is None
    # A threshold above the confidence (install(threshold=...) overrides the bundle's).
    K.matmul.reset()
    helion_learned.install(target="sm90", model_dirs=[confident_bundle], threshold=1.01)
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics
    assert cs.compiler_default_config is None


def test_every_bind_on_matching_hardware_predicts(shy_bundle: Path) -> None:
    # The threshold gates only promotion now, so even an unreachable one predicts (and seeds).
    (heuristic, *_) = helion_learned.install(target="sm90", model_dirs=[shy_bundle])
    calls: list[int] = []
    original = heuristic._predictor.predict
    heuristic._predictor.predict = lambda *a, **k: calls.append(1) or original(*a, **k)
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics and calls == [1]  # once per bind


def test_abstains_on_other_hardware(confident_bundle: Path) -> None:
    helion_learned.install(target="sm80", model_dirs=[confident_bundle])
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" not in cs.autotuner_heuristics


def test_device_list_gates_gpus_of_the_same_capability(tmp_path: Path, caplog) -> None:
    # A bundle trained on H100 logs lists its GPU: it predicts for an H100 and abstains on an
    # H200 (same sm90), where the measured transfer said the H100 picks lose to Helion's default.
    make_bundle(tmp_path / "h100_only", threshold=0.0, devices=["NVIDIA H100"])
    helion_learned.install(target="h100", model_dirs=[tmp_path / "h100_only"])
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics
    helion_learned.uninstall()
    K.matmul.reset()
    helion_learned.install(target="h200", model_dirs=[tmp_path / "h100_only"])
    with caplog.at_level(logging.DEBUG, logger="helion_learned"):
        _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" not in cs.autotuner_heuristics
    assert any("NVIDIA H200" in r.getMessage() and "not a target" in r.getMessage()
               for r in caplog.records)


def test_bundle_without_device_list_matches_by_capability(confident_bundle: Path) -> None:
    helion_learned.install(target="h200", model_dirs=[confident_bundle])
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics


def test_shipped_bundle_targets_the_gpus_it_was_trained_on() -> None:
    from helion_learned.features.hardware import PRESETS
    from helion_learned.models.bundle import ModelBundle

    shipped = Path(helion_learned.__file__).parent / "models/artifacts/triton/cuda_sm90"
    bundle = ModelBundle.load(shipped)
    assert [t.get("devices") for t in bundle.targets] == [["NVIDIA H100"]]
    assert bundle.matches(PRESETS["h100"]) and not bundle.matches(PRESETS["h200"])


def test_abstains_on_cpu_without_target(confident_bundle: Path, caplog) -> None:
    helion_learned.install(model_dirs=[confident_bundle])
    with caplog.at_level(logging.DEBUG, logger="helion_learned"):
        _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" not in cs.autotuner_heuristics
    assert "HELION_LEARNED_TARGET" in caplog.text


def test_target_from_environment(confident_bundle: Path, monkeypatch) -> None:
    monkeypatch.setenv("HELION_LEARNED_TARGET", "h100")
    helion_learned.install(model_dirs=[confident_bundle])
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" in cs.autotuner_heuristics


def test_disable_switch(confident_bundle: Path, monkeypatch) -> None:
    monkeypatch.setenv("HELION_LEARNED_DISABLE", "1")
    assert helion_learned.install(target="sm90", model_dirs=[confident_bundle]) == []
    _, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" not in cs.autotuner_heuristics


def test_respects_helion_disable_autotuner_heuristics(confident_bundle: Path) -> None:
    helion_learned.install(target="sm90", model_dirs=[confident_bundle])
    kernel = helion.kernel(K.matmul.fn, static_shapes=True, disable_autotuner_heuristics=True)
    _, cs = _bind(kernel, _matmul_args())
    assert cs.autotuner_heuristics == []


def test_install_is_idempotent(confident_bundle: Path) -> None:
    original = ah.HEURISTICS_BY_BACKEND["triton"]
    helion_learned.install(target="sm90", model_dirs=[confident_bundle])
    once = ah.HEURISTICS_BY_BACKEND["triton"]
    helion_learned.install(target="sm90", model_dirs=[confident_bundle])
    assert len(ah.HEURISTICS_BY_BACKEND["triton"]) == len(once) == len(original) + 2
    helion_learned.uninstall()
    helion_learned.uninstall()
    assert ah.HEURISTICS_BY_BACKEND["triton"] == original


def test_seeds_are_deterministic(confident_bundle: Path) -> None:
    helion_learned.install(target="sm90", model_dirs=[confident_bundle], top_k=3)
    _, cs1 = _bind(K.matmul, _matmul_args())
    first = [dict(s.config) for s in cs1.compiler_seed_configs]
    K.matmul.reset()
    helion_learned.install(target="sm90", model_dirs=[confident_bundle], top_k=3)
    _, cs2 = _bind(K.matmul, _matmul_args())
    assert [dict(s.config) for s in cs2.compiler_seed_configs] == first


def test_promoted_seed_runs_with_autotune_off(confident_bundle: Path, capfd) -> None:
    helion_learned.install(target="sm90", model_dirs=[confident_bundle], promote=True)
    kernel = helion.kernel(K.matmul.fn, static_shapes=True, autotune_effort="none")
    x, y = _matmul_args(64, 32, 48)
    out = kernel(x, y)
    bound = kernel.bind((x, y))
    cs = bound.env.config_spec
    assert cs.compiler_default_config is not None
    learned = next(s for s in cs.compiler_seed_configs if s.config.get("l2_groupings") is not None)
    assert cs.compiler_default_config.config["block_sizes"] == learned.config["block_sizes"]
    torch.testing.assert_close(out, (x.float() @ y.float()).to(F16), rtol=2e-2, atol=2e-2)


def test_broken_prediction_never_fails_the_bind(confident_bundle: Path, caplog) -> None:
    installed = helion_learned.install(target="sm90", model_dirs=[confident_bundle])
    heuristic = installed[0]

    def boom(*args, **kwargs):
        raise RuntimeError("model exploded")

    heuristic._predictor.predict = boom  # type: ignore[method-assign]
    with caplog.at_level(logging.DEBUG, logger="helion_learned"):
        _bound, cs = _bind(K.matmul, _matmul_args())
    assert "learned_triton_sm90" not in cs.autotuner_heuristics
    assert "model exploded" in caplog.text
    kernel = helion.kernel(K.matmul.fn, static_shapes=True, autotune_effort="none")
    x, y = _matmul_args(32, 16, 32)
    torch.testing.assert_close(kernel(x, y).float(), x.float() @ y.float(), rtol=2e-2, atol=2e-2)


def test_inspect_shows_the_device_list(capsys) -> None:
    import json

    from helion_learned import cli

    shipped = Path(helion_learned.__file__).parent / "models/artifacts/triton/cuda_sm90"
    assert cli.main(["inspect", str(shipped)]) == 0
    assert "cuda sm90 (NVIDIA H100 only)" in capsys.readouterr().out
    assert cli.main(["inspect", str(shipped), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "NVIDIA H100" in json.dumps(out)


def test_exclusion_keys_only_configs_that_could_match(monkeypatch: pytest.MonkeyPatch) -> None:
    # The ranking skips a config Helion already seeds even when it is written differently (a
    # partial config vs Helion's completion of it), and canonicalizes an excluded config only
    # when it could be the candidate at hand.
    import numpy as np

    from helion_learned.models import predict as P

    _, cs = _bind(K.matmul, _matmul_args())
    gen = cs.create_config_generation()
    a = {"block_sizes": [64, 64, 32], "num_warps": 4, "num_stages": 3}
    b = {"block_sizes": [32, 64, 32], "num_warps": 4, "num_stages": 2}
    c = {"block_sizes": [128, 64, 32], "num_warps": 8, "num_stages": 3}
    b_full = dict(gen.canonicalize_flat(gen.flatten(helion.Config(**b)))[1].config)
    assert b_full != b  # Helion's completion fills in more fields
    far = {**b_full, "num_warps": 16}  # cannot be any candidate: never keyed
    keyed: list[dict] = []
    real = P.canonical_key
    monkeypatch.setattr(P, "canonical_key",
                        lambda spec, cfg, gen=None: keyed.append(cfg) or real(spec, cfg, gen=gen))
    picked, _ = P.Predictor._valid_top(np.arange(3), [a, b, c], np.zeros(3), cs, 3, [b_full, far])
    assert picked == [a, c]
    assert far not in keyed and b_full in keyed
    # The pick stays first even when Helion seeds it too.
    picked, _ = P.Predictor._valid_top(np.arange(3), [b, a, c], np.zeros(3), cs, 3, [b_full])
    assert picked == [b, a, c]
