"""The learned searches inside real Helion autotunes on CPU (TRITON_INTERPRET=1).

``LearnedTopKSearch`` benchmarks the model's top-k plus Helion's own configs and returns one of
them; ``LearnedPriorLFBOTreeSearch`` is Helion's default search with the learned top-k in its
initial population. Both are registered by ``install()`` and selectable by ``HELION_AUTOTUNER``.
The bundle is the synthetic test bundle (tests/_bundles.py): these tests check the mechanism,
not the model's quality.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import helion
import pytest
import torch
from helion._compiler import autotuner_heuristics as ah
from helion.autotuner import LFBOTreeSearch
from helion.autotuner import search_algorithms

import helion_learned
from helion_learned.search.prior import LearnedPriorLFBOTreeSearch
from helion_learned.search.topk import LearnedTopKSearch
from helion_learned.training.logs import parse_config_repr
from helion_learned.training.suite import kernels as K
from helion_learned.training.suite.interpret import apply_cpu_patches
from tests._bundles import make_bundle
from tests._cpu_autotune import CPU_AUTOTUNE_SETTINGS

CPU = {k: v for k, v in CPU_AUTOTUNE_SETTINGS.items() if k != "autotuner_fn"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    apply_cpu_patches()
    path = tmp_path_factory.mktemp("search") / "bundle"
    make_bundle(path, threshold=1.01)  # never promotes: the searches must not need confidence
    return path


@pytest.fixture(autouse=True)
def clean_registry():
    heuristics, searches = dict(ah.HEURISTICS_BY_BACKEND), dict(search_algorithms)
    yield
    helion_learned.uninstall()
    assert ah.HEURISTICS_BY_BACKEND == heuristics
    assert dict(search_algorithms) == searches


class _NoCache:
    """Stands in for LocalAutotuneCache, which asserts a GPU name that CPU lacks."""

    def __init__(self, autotuner: Any, autotuner_factory: Any = None) -> None:
        self.autotuner = autotuner

    def autotune(self, *, skip_cache: bool = False) -> Any:
        return self.autotuner.autotune()


@pytest.fixture
def no_cache(monkeypatch: pytest.MonkeyPatch) -> str:
    from helion.autotuner import cache_classes

    monkeypatch.setitem(cache_classes, "NoCacheForCPU", _NoCache)
    return "NoCacheForCPU"


def _capture(cls: type, searches: list, **search_kwargs: Any):
    def autotuner_fn(bound_kernel: Any, args: Any, **kwargs: Any) -> Any:
        search = cls(bound_kernel, args, **{**kwargs, **search_kwargs})
        searches.append(search)
        return search
    return autotuner_fn


def _rows(base: Path) -> list[dict[str, str]]:
    with open(f"{base}.csv", newline="") as f:
        return list(csv.DictReader(f))


def _key(search: Any, cfg: helion.Config) -> str:
    gen = search.config_gen
    return repr(gen.canonicalize_flat(gen.flatten(cfg))[0])


def test_install_registers_the_searches(bundle: Path) -> None:
    assert "LearnedTopKSearch" not in search_algorithms
    helion_learned.install(target="sm90", model_dirs=[bundle])
    assert search_algorithms["LearnedTopKSearch"] is LearnedTopKSearch
    assert search_algorithms["LearnedPriorLFBOTreeSearch"] is LearnedPriorLFBOTreeSearch
    helion_learned.uninstall()
    assert "LearnedTopKSearch" not in search_algorithms
    helion_learned.install(target="sm90", model_dirs=[bundle], searches=False)
    assert "LearnedTopKSearch" not in search_algorithms


def test_topk_search_runs_end_to_end_and_returns_one_of_its_configs(
        bundle: Path, tmp_path: Path) -> None:
    helion_learned.install(target="sm90", model_dirs=[bundle])
    searches: list[LearnedTopKSearch] = []
    base = tmp_path / "log"
    kernel = helion.kernel(K.matmul.fn, static_shapes=True, autotune_log=str(base),
                           autotuner_fn=_capture(LearnedTopKSearch, searches, k=3), **CPU)
    x, y = torch.randn(64, 32, dtype=torch.float16), torch.randn(32, 48, dtype=torch.float16)
    out = kernel(x, y)
    torch.testing.assert_close(out.float(), x.float() @ y.float(), rtol=2e-2, atol=2e-2)
    (search,) = searches
    assert search.model_name == "learned_triton_sm90"
    assert len(search.learned_configs) == 3
    keys = [_key(search, c) for c in search.configs]
    assert len(set(keys)) == len(keys)  # each config benchmarked once
    # The list: the learned top-k first, then Helion's default (what runs with autotune off).
    assert keys[:3] == [_key(search, c) for c in search.learned_configs]
    assert _key(search, search.config_spec.default_config()) in keys
    # It benchmarked exactly its list (Helion's CSV log) and chose one of them.
    logged = [_key(search, helion.Config(**parse_config_repr(r["config"])))
              for r in _rows(base) if r["status"] == "ok"]
    assert set(logged) <= set(keys) and len(logged) >= 2
    chosen = kernel.bind((x, y))._config  # the config the kernel now runs
    assert chosen is not None and _key(search, chosen) in keys


def test_autotuner_fn_selects_the_search_and_wraps_the_kernels_cache(
        bundle: Path, no_cache: str) -> None:
    helion_learned.install(target="sm90", model_dirs=[bundle])
    fn = helion_learned.autotuner(k=2)
    kernel = helion.kernel(K.add.fn, static_shapes=True, autotuner_fn=fn,
                           autotune_cache=no_cache, **CPU)
    x, y = torch.randn(64, 48), torch.randn(64, 48)
    bound = kernel.bind((x, y))
    tuner = fn(bound, (x, y))
    assert isinstance(tuner, _NoCache) and isinstance(tuner.autotuner, LearnedTopKSearch)
    assert tuner.autotuner.k == 2
    torch.testing.assert_close(kernel(x, y), x + y)
    with pytest.raises(ValueError, match="expected one of"):
        helion_learned.autotuner(search="NoSuchSearch")
    with pytest.raises(ValueError, match="k must be >= 1"):
        helion_learned.autotuner(k=0)


def test_helion_autotuner_env_selects_a_learned_search(
        bundle: Path, no_cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from helion.runtime.settings import default_autotuner_fn

    helion_learned.install(target="sm90", model_dirs=[bundle])
    monkeypatch.setenv("HELION_AUTOTUNER", "LearnedTopKSearch")
    kernel = helion.kernel(K.add.fn, static_shapes=True, autotune_cache=no_cache,
                           **{k: v for k, v in CPU.items()})
    x, y = torch.randn(32, 40), torch.randn(32, 40)
    tuner = default_autotuner_fn(kernel.bind((x, y)), (x, y))
    assert isinstance(tuner.autotuner, LearnedTopKSearch)
    assert tuner.autotuner.learned_configs


def test_topk_search_without_a_model_still_returns_helions_choice(tmp_path: Path) -> None:
    # No install() and no target on CPU: no ranking, the search runs Helion's own configs only.
    searches: list[LearnedTopKSearch] = []
    kernel = helion.kernel(K.add.fn, static_shapes=True,
                           autotuner_fn=_capture(LearnedTopKSearch, searches), **CPU)
    x, y = torch.randn(16, 24), torch.randn(16, 24)
    torch.testing.assert_close(kernel(x, y), x + y)
    (search,) = searches
    assert search.learned_configs == [] and search.configs


def test_prior_search_leads_with_the_learned_top_k(bundle: Path, tmp_path: Path) -> None:
    helion_learned.install(target="sm90", model_dirs=[bundle])
    searches: list[LearnedPriorLFBOTreeSearch] = []
    base = tmp_path / "log"
    kernel = helion.kernel(K.add.fn, static_shapes=True, autotune_effort="quick",
                           autotune_log=str(base), autotune_max_generations=1,
                           autotuner_fn=_prior_fn(searches, learned_k=3), **CPU)
    x, y = torch.randn(64, 48), torch.randn(64, 48)
    torch.testing.assert_close(kernel(x, y), x + y)
    (search,) = searches
    assert len(search.learned_seeds) == 3
    initial = [parse_config_repr(r["config"]) for r in _rows(base)
               if r["generation"] == "0" and r["status"] == "ok"]
    decided = ("block_sizes", "num_warps", "num_stages")
    for seed in search.learned_seeds:
        assert any(all(cfg.get(k) == seed.config.get(k) for k in decided if k in seed.config)
                   for cfg in initial), (seed, initial)


def _prior_fn(searches: list, **search_kwargs: Any):
    """Helion's default autotuner_fn for the prior search, without the (GPU-only) cache."""
    import inspect

    from helion.autotuner.effort_profile import get_effort_profile

    def autotuner_fn(bound_kernel: Any, args: Any, **kwargs: Any) -> Any:
        params = inspect.signature(LearnedPriorLFBOTreeSearch.__init__).parameters
        profile = get_effort_profile(bound_kernel.settings.autotune_effort)
        for k, v in LearnedPriorLFBOTreeSearch.get_kwargs_from_profile(
                profile, bound_kernel.settings).items():
            if k not in kwargs and k in params:
                kwargs[k] = v
        search = LearnedPriorLFBOTreeSearch(bound_kernel, args, **{**kwargs, **search_kwargs})
        searches.append(search)
        return search
    return autotuner_fn


def test_prior_search_prescreens_with_the_cost_model(
        bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helion_learned.install(target="sm90", model_dirs=[bundle])
    kernel = helion.kernel(K.add.fn, static_shapes=True, **CPU)
    x, y = torch.randn(64, 48), torch.randn(64, 48)
    bound = kernel.bind((x, y))
    search = LearnedPriorLFBOTreeSearch(bound, (x, y), learned_k=2, prescreen=0.5)
    members = [m for _ in range(40)
               if (m := search.make_unbenchmarked(search.config_gen.random_flat())) is not None]
    members = members[:12]
    assert len(members) == 12
    scores = search._cost_scores(members)
    assert scores is not None and len(scores) == 12
    captured: list[list[Any]] = []
    monkeypatch.setattr(LFBOTreeSearch, "_surrogate_select",
                        lambda self, cands, n: captured.append(cands) or cands[:n])
    search._surrogate_select(members, 3)
    (kept,) = captured
    # The first (Helion's incumbent) always stays; the cost model's best 5 of the rest join it.
    best5 = sorted(range(1, 12), key=lambda i: -scores[i])[:5]
    assert [id(m) for m in kept] == [id(members[i]) for i in sorted({0, *best5})]
    assert search.n_prescreened == 6
    with pytest.raises(ValueError, match="prescreen"):
        LearnedPriorLFBOTreeSearch(bound, (x, y), prescreen=0.0)
