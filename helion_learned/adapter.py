"""Wrap a model bundle as a Helion ``AutotunerHeuristic``: seeds always, promotes when confident.

* Seeding is ungated: on hardware the bundle was trained for, ``get_seed_configs`` hands the
  autotuner the model's top-k (deduplicated against Helion's own seeds). A seed costs one
  benchmark inside a search of hundreds, so there is nothing to gate. ``is_eligible`` means "this
  model can rank this kernel on this hardware".
* Promotion is gated: ``should_promote`` makes the pick Helion's default config (what runs with
  autotuning off) only when the calibrated confidence that the pick is not slower than Helion's
  own default clears the bundle's threshold (models.calibration.GateSpec).

Helion calls ``is_eligible`` / ``get_seed_configs`` inside a try/except, but ``register_facts`` and
``should_promote`` outside it: everything here is wrapped so that nothing can fail a compile. Any
surprise → abstain, with the reason on the ``helion_learned`` logger at DEBUG.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import weakref
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

from helion._compiler.autotuner_heuristics.registry import AutotunerHeuristic

from .features.facts import facts_from_env
from .features.hardware import HardwareFacts
from .features.hardware import from_device
from .models.bundle import ModelBundle
from .models.keying import keying_spec
from .models.predict import Prediction
from .models.predict import Predictor

log = logging.getLogger("helion_learned")
# Seeds handed to the autotuner by default: the pick and 3 more Helion does not seed itself.
DEFAULT_TOP_K = 4


@dataclasses.dataclass(frozen=True)
class BindPrediction:
    """One bind's prediction and the Helion configs it ranked with (its fragment default and its
    heuristics' seeds; the prediction's configs after the pick leave them out)."""

    prediction: Prediction
    helion: list[dict[str, Any]]


def describe_error(e: BaseException) -> str:
    """``Type: message`` for a log line, even when the exception's ``__str__`` itself raises."""
    try:
        return f"{type(e).__name__}: {e}"
    except Exception:
        return type(e).__name__


def resolve_hardware(env: Any, target: HardwareFacts | None) -> HardwareFacts | None:
    """The explicit target if one was given, else the live device; None (abstain) on CPU."""
    if target is not None:
        return target
    try:
        return from_device(env.device)
    except Exception as e:  # CPU, or an env without a usable device (do not touch it again)
        log.debug("helion_learned: no hardware to predict for (%s); set HELION_LEARNED_TARGET",
                  describe_error(e))
        return None


def helion_candidates(env: Any, device_ir: Any) -> list[dict[str, Any]]:
    """Helion's own candidates for this kernel: its fragment defaults and the seeds of its built-in
    heuristics. The model re-ranks them with its grid (they are in every training workload too)."""
    from helion._compiler import autotuner_heuristics as ah

    out: list[dict[str, Any]] = []
    try:
        # On a keying spec: the same config, with Helion's per-key lookups memoized (~0.15 ms).
        out.append(dict(keying_spec(env.config_spec).autotune_reference_config().config))
    except Exception as e:
        log.debug("helion_learned: no reference config: %s", e)
    for h in ah.get_heuristics(str(env.backend_name)):
        if getattr(h, "_helion_learned", False):
            continue
        try:
            if not h.is_eligible(env, device_ir):
                continue
            seeds = h.get_seed_configs(env, device_ir)
            if seeds is None:
                seeds = [h.get_seed_config(env, device_ir)]
            out.extend(dict(s.config) for s in seeds if s is not None)
        except Exception as e:  # a built-in heuristic failing is Helion's business, not ours
            log.debug("helion_learned: %s gave no candidates: %s", getattr(h, "name", h), e)
    return out


class LearnedHeuristicBase(AutotunerHeuristic):
    """Base of every heuristic class :func:`make_heuristic` builds (one per bundle)."""

    name: ClassVar[str] = "learned_base"
    backend: ClassVar[str] = "triton"
    # Predictions depend on the SM count and on exact shapes (dynamic-shape kernels too).
    CACHE_SPECIALIZATION_FACTS: ClassVar[frozenset[Any]] = frozenset(
        {"device_num_sm", "input_tensor_metadata"})
    _helion_learned: ClassVar[bool] = True
    _predictor: ClassVar[Predictor]
    _target: ClassVar[HardwareFacts | None] = None
    _top_k: ClassVar[int] = DEFAULT_TOP_K
    _promote: ClassVar[bool] = True
    _cache: ClassVar[weakref.WeakKeyDictionary[Any, BindPrediction | None]]

    @classmethod
    def _prediction(cls, env: Any, device_ir: Any) -> BindPrediction | None:
        """Predict once per bound kernel (is_eligible, get_seed_configs and should_promote
        share it)."""
        try:
            if env in cls._cache:
                return cls._cache[env]
        except Exception:  # not weak-referenceable / hashable: predict uncached
            pass
        pred = cls._predict_uncached(env, device_ir)
        try:
            cls._cache[env] = pred
        except Exception:
            pass
        return pred

    @classmethod
    def ranked(cls, env: Any, device_ir: Any, top_k: int,
               exclude: Sequence[dict[str, Any]] = ()) -> BindPrediction | None:
        """The model's ranking for a bound kernel: the pick, then valid configs that neither
        Helion's own candidates nor ``exclude`` hold (``top_k`` in all), and the confidence;
        None where the model cannot rank it (CPU without a target, other hardware, failure)."""
        try:
            hw = resolve_hardware(env, cls._target)
            if hw is None:
                return None
            if not cls._predictor.bundle.matches(hw):
                log.debug("%s: abstain, hardware %s (%s) is not a target of this model",
                          cls.name, hw.name, hw.cc_tag)
                return None
            facts = facts_from_env(env, device_ir)
            extras = helion_candidates(env, device_ir)  # Helion's fragment defaults come first
            pred = cls._predictor.predict(facts, hw, config_spec=env.config_spec, top_k=top_k,
                                          extra_candidates=extras,
                                          reference=extras[0] if extras else None,
                                          exclude=[*extras, *exclude])
            log.debug("%s: %s confidence=%.3f threshold=%.3f pick=%s (%d candidates, %.1f ms)",
                      cls.name, facts.kernel_name, pred.confidence,
                      cls._predictor.bundle.threshold_for(pred.kernel_key), pred.configs[:1],
                      pred.n_candidates, pred.latency_ms)
            return BindPrediction(pred, extras)
        except Exception as e:
            log.debug("%s: abstain, prediction failed: %s", cls.name, describe_error(e),
                      exc_info=True)
            return None

    @classmethod
    def _predict_uncached(cls, env: Any, device_ir: Any) -> BindPrediction | None:
        # The pick plus top_k - 1 configs that Helion does not seed itself.
        return cls.ranked(env, device_ir, cls._top_k)

    @classmethod
    def confident(cls, bound: BindPrediction | None) -> bool:
        """Whether the pick clears the promotion threshold for its kernel."""
        if bound is None or not bound.prediction.configs:
            return False
        pred, bundle = bound.prediction, cls._predictor.bundle
        threshold = bundle.threshold_for(pred.kernel_key)
        if not pred.confidence >= threshold:  # NaN confidence abstains too
            log.debug("%s: no promotion, confidence %.3f < threshold %.3f (%s)", cls.name,
                      pred.confidence, threshold,
                      "a kernel of the training logs" if bundle.knows(pred.kernel_key)
                      else f"kernel {pred.kernel_key!r} is not in the training logs")
            return False
        return True

    @classmethod
    def is_eligible(cls, env: Any, device_ir: Any) -> bool:
        # Ungated: the model seeds whenever it can rank this kernel on this hardware.
        bound = cls._prediction(env, device_ir)
        return bound is not None and bool(bound.prediction.configs)

    @classmethod
    def get_seed_configs(cls, env: Any, device_ir: Any) -> list[Any] | None:
        import helion

        bound = cls._prediction(env, device_ir)
        if bound is None or not bound.prediction.configs:
            return None
        # Already the pick, then configs Helion does not seed (Predictor.predict's ``exclude``).
        return [helion.Config(**cfg) for cfg in bound.prediction.configs[:cls._top_k]]

    @classmethod
    def get_seed_config(cls, env: Any, device_ir: Any) -> Any:
        seeds = cls.get_seed_configs(env, device_ir)
        return seeds[0] if seeds else None

    @classmethod
    def should_promote(cls, env: Any) -> bool:
        # Runs outside Helion's try/except: must never raise.
        try:
            if not cls._promote or getattr(env.settings, "disable_autotuner_heuristics", False):
                return False
            hw = resolve_hardware(env, cls._target)
            if hw is None or not cls._predictor.bundle.matches(hw):
                return False
            # Helion asks only after this bind's get_seed_configs: the prediction is cached.
            return cls.confident(cls._cache.get(env))
        except Exception as e:
            log.debug("%s: should_promote failed: %s", cls.name, describe_error(e))
            return False

    @classmethod
    def register_facts(cls, env: Any, device_ir: Any) -> frozenset[Any]:
        return frozenset()  # runs outside Helion's try/except; we need no extra facts


def make_heuristic(bundle: ModelBundle, *, target: HardwareFacts | None = None,
                   top_k: int = DEFAULT_TOP_K, promote: bool = True,
                   threshold: float | None = None) -> type[LearnedHeuristicBase]:
    """A fresh ``AutotunerHeuristic`` subclass bound to ``bundle`` (named like ``learned_triton_sm90``).

    ``threshold`` overrides the bundle's calibrated promotion thresholds, for kernels of its
    training logs and for the others alike (0 = always promote; > 1 = never). Seeding is
    never gated.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if threshold is not None:
        if math.isnan(float(threshold)):  # NaN would never block: `confidence < nan` is False
            raise ValueError("threshold must be a number (0 = always promote, > 1 = never), "
                             "got NaN")
        # One threshold for every kernel, seen in training or not.
        bundle = dataclasses.replace(bundle, threshold=float(threshold), unseen_threshold=None)
    attrs: dict[str, Any] = {
        "name": bundle.name,
        "backend": bundle.backend,
        "promote_seed_to_default": promote,
        "_predictor": Predictor(bundle),
        "_target": target,
        "_top_k": top_k,
        "_promote": promote,
        "_cache": weakref.WeakKeyDictionary(),
    }
    return type(f"Learned_{bundle.backend}_{bundle.name}", (LearnedHeuristicBase,), attrs)
