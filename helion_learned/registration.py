"""Register helion_learned's heuristics with Helion (and take them out again).

Helion 1.5 has no plugin hook: heuristics live in the tuple ``HEURISTICS_BY_BACKEND[backend]``,
read at call time. ``install()`` appends ours (so a confident learned pick's promotion wins over a
built-in one), registers the learned searches in ``helion.autotuner.search_algorithms``
(:mod:`.search`), and is idempotent; ``uninstall()`` restores both. Install before the first
call of a kernel, or call ``kernel.reset()``: Helion caches bound kernels.

What ``install()`` does by default, on hardware a bundle was trained for:
* autotune on: the model's top 4 (the pick, then configs Helion does not seed itself) join the
  search's initial population, whatever the confidence;
* autotune off: the pick becomes Helion's default config where the calibrated confidence that it
  is not slower than Helion's own default clears the bundle's threshold (``promote=False`` opts
  out); elsewhere Helion's default runs as before.

Environment switches:
* ``HELION_LEARNED_DISABLE=1`` makes ``install()`` a no-op (Helion's own
  ``HELION_DISABLE_AUTOTUNER_HEURISTICS=1`` also turns our seeds off, as it does Helion's).
* ``HELION_LEARNED_TARGET=sm90`` predicts for a named GPU (needed on CPU; see features.hardware).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

from helion._compiler import autotuner_heuristics as ah
from helion._compiler.autotuner_heuristics.registry import AutotunerHeuristic

from . import search
from .adapter import DEFAULT_TOP_K
from .adapter import describe_error
from .adapter import make_heuristic
from .features import sidecar
from .features.facts import facts_from_env
from .features.facts import kernel_source
from .features.hardware import HardwareFacts
from .features.hardware import from_device
from .features.hardware import resolve_target
from .models.bundle import BundleError
from .models.bundle import ModelBundle
from .models.bundle import shipped_bundles

log = logging.getLogger("helion_learned")
DISABLE_ENV = "HELION_LEARNED_DISABLE"
BACKENDS = ("triton", "cute")


class FactsRecorder(AutotunerHeuristic):
    """Never fires. Writes ``<autotune_log>.facts.jsonl`` at bind time when Helion logging is on."""

    name: ClassVar[str] = "helion_learned_facts_recorder"
    backend: ClassVar[str] = "any"
    _helion_learned: ClassVar[bool] = True
    _target: ClassVar[HardwareFacts | None] = None
    _written: ClassVar[set[tuple[str, str]]] = set()

    @classmethod
    def is_eligible(cls, env: Any, device_ir: Any) -> bool:
        return False

    @classmethod
    def should_promote(cls, env: Any) -> bool:
        return False

    @classmethod
    def register_facts(cls, env: Any, device_ir: Any) -> frozenset[Any]:
        # Runs for every bind, outside Helion's try/except: never raise.
        try:
            base = getattr(env.settings, "autotune_log", None)
            if base:
                cls._record(env, device_ir, str(base))
        except Exception as e:
            log.debug("helion_learned: facts sidecar not written: %s", describe_error(e))
        return frozenset()

    @classmethod
    def _record(cls, env: Any, device_ir: Any, base: str) -> None:
        import torch
        from helion._compat import get_device_name

        args = list(env.runtime_arg_values_by_name.values())
        shapes, dtypes = sidecar.shapes_and_dtypes(args)
        device = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
        hardware = (get_device_name(device) if device is not None else None) or ""
        source = kernel_source(device_ir)
        if source is None:
            raise RuntimeError("kernel source unavailable")
        run_id = sidecar.helion_run_id(kernel_source=source, settings=env.settings.to_dict(),
                                       input_shapes=shapes, dtypes=dtypes, hardware=hardware)
        path = sidecar.sidecar_path(base)
        if (str(path), run_id) in cls._written:
            return
        facts = facts_from_env(env, device_ir)
        record = sidecar.make_record(run_id=run_id, kernel_name=facts.kernel_name,
                                     input_shapes=shapes, dtypes=dtypes, hardware=hardware,
                                     facts=facts, hardware_facts=cls._measured_on(device))
        sidecar.append_record(path, record)
        cls._written.add((str(path), run_id))


    @classmethod
    def _measured_on(cls, device: Any) -> HardwareFacts | None:
        """The hardware the timings will come from: the live GPU, never the prediction target.

        On CPU (interpreter timings) the explicit target is recorded under a name that says so.
        """
        try:
            return from_device(device)
        except Exception:
            if cls._target is None:
                return None
            return dataclasses.replace(cls._target, name=f"CPU interpreter (as {cls._target.cc_tag})")


def _is_ours(h: type) -> bool:
    return bool(getattr(h, "_helion_learned", False))


def uninstall() -> None:
    """Remove every helion_learned heuristic and search from Helion's registries. Safe to call
    twice."""
    for backend, heuristics in list(ah.HEURISTICS_BY_BACKEND.items()):
        ah.HEURISTICS_BY_BACKEND[backend] = tuple(h for h in heuristics if not _is_ours(h))
    search.unregister()


def _load_bundles(model_dirs: Sequence[str | os.PathLike[str]] | None,
                  backends: Sequence[str]) -> list[ModelBundle]:
    if model_dirs is not None:
        return [ModelBundle.load(p) for p in model_dirs]  # explicit: errors surface to the caller
    bundles = []
    for backend in backends:
        try:
            paths = shipped_bundles(backend)
        except Exception as e:  # an unreadable artifacts folder must not stop install()
            log.warning("helion_learned: cannot list shipped %s bundles: %s", backend,
                        describe_error(e))
            continue
        for path in paths:
            try:
                bundles.append(ModelBundle.load(path))
            except Exception as e:  # BundleError, or anything load did not foresee
                log.warning("helion_learned: skipping shipped bundle %s: %s", path,
                            e if isinstance(e, BundleError) else describe_error(e))
    return bundles


def install(*, target: str | HardwareFacts | None = None,
            model_dirs: Sequence[str | os.PathLike[str]] | None = None,
            backends: Sequence[str] = BACKENDS, top_k: int = DEFAULT_TOP_K, promote: bool = True,
            threshold: float | None = None, record_facts: bool = True,
            seed: bool = True, searches: bool = True) -> list[type[AutotunerHeuristic]]:
    """Register learned heuristics (and the facts recorder) with Helion. Idempotent.

    target: GPU to predict for (``"sm90"``, ``"h100"``, a HardwareFacts); default: the live device,
        or ``$HELION_LEARNED_TARGET``.
    model_dirs: bundle directories; default: the bundles shipped with this package.
    top_k: ranked seeds handed to the autotuner (the first is the pick; the others are configs
        Helion's own heuristics do not seed). Seeding is not gated by the confidence.
    promote: make a confident pick Helion's default config (what runs with autotuning off).
    threshold: override the bundle's calibrated promotion thresholds (0 = promote whenever the
        hardware matches, > 1 = never; the calibrated defaults keep fired picks more than 5 %
        slower than Helion's default within their budget: one for kernels of the training
        logs, one, from leave-family-out outcomes, for others).
    record_facts: write ``<autotune_log>.facts.jsonl`` when Helion's autotune logging is on.
    seed: install the learned heuristics (False: only record facts, e.g. for data collection).
    searches: register the learned search algorithms (``HELION_AUTOTUNER=LearnedTopKSearch``).
    """
    uninstall()
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        log.info("helion_learned: %s is set; not installing", DISABLE_ENV)
        return []
    hw = resolve_target(target)
    installed: list[type[AutotunerHeuristic]] = []
    if searches:
        search.register()
    if seed:
        for bundle in _load_bundles(model_dirs, backends):
            if bundle.backend not in ah.HEURISTICS_BY_BACKEND:
                log.warning("helion_learned: Helion has no backend %r; bundle %s not installed",
                            bundle.backend, bundle.path)
                continue
            heuristic = make_heuristic(bundle, target=hw, top_k=top_k, promote=promote,
                                       threshold=threshold)
            ah.HEURISTICS_BY_BACKEND[bundle.backend] = (
                *ah.HEURISTICS_BY_BACKEND[bundle.backend], heuristic)
            installed.append(heuristic)
            b = heuristic._predictor.bundle
            log.debug("helion_learned: installed %s for Helion backend %r (promotion "
                      "threshold %.3f; kernels not in its logs: %s) from %s", heuristic.name, bundle.backend,
                      b.threshold, "same" if b.unseen_threshold is None
                      else f"{b.unseen_threshold:.3f}", bundle.path)
    if record_facts:
        recorder = type("FactsRecorderInstalled", (FactsRecorder,), {"_target": hw})
        for backend in backends:
            if backend in ah.HEURISTICS_BY_BACKEND:
                ah.HEURISTICS_BY_BACKEND[backend] = (*ah.HEURISTICS_BY_BACKEND[backend], recorder)
        installed.append(recorder)
    return installed


@contextlib.contextmanager
def installed(**kwargs: Any) -> Iterator[list[type[AutotunerHeuristic]]]:
    """``with helion_learned.installed(target="sm90"): ...`` — uninstalls on exit."""
    try:
        yield install(**kwargs)
    finally:
        uninstall()
