"""Model bundles on disk: ``model.ubj`` (XGBoost's native format) + ``metadata.json``. No pickle.

A bundle is data, not code: loading one never executes anything from it. The model file's sha256 is
recorded in the metadata and checked on load; so are the bundle and feature schema versions.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..features.hardware import HardwareFacts
from ..features.vectorize import FEATURE_SCHEMA_VERSION
from ..features.vectorize import FeatureExtractor
from . import overlap as overlap_calls
from . import xgb_model
from .atomic_dir import replace_dir
from .bundle_checks import MAX_MODEL_BYTES
from .bundle_checks import RETRAIN_HINT
from .bundle_checks import BundleError
from .bundle_checks import bad_field
from .bundle_checks import check_metadata
from .bundle_checks import check_version
from .bundle_checks import checked_params
from .bundle_checks import finite
from .bundle_checks import first_line
from .bundle_checks import read_limited
from .bundle_checks import read_metadata
from .bundle_checks import sha256_file
from .calibration import ConfidenceCalibrator
from .kernel_experts import EXPERT_PARAMS
from .kernel_experts import MIN_WORKLOADS
from .kernel_experts import STRUCTURE_COLUMNS
from .kernel_experts import KernelExperts
from .kernel_experts import facts_key
from .kernel_experts import legacy_facts_key
from .kernel_experts import mix
from .lazy_models import LazyModels
from .ranker import CostModel

# 2: optional per-kernel experts (``experts/NNN.ubj``). A schema-1 bundle still loads (no experts).
# 3: optional ``known_kernels`` + ``unseen_threshold`` (the gate for kernels the logs never held).
# Older bundles load with one threshold for every kernel, as they were calibrated.
# 4: expert and known-kernel keys carry the kernel's structure signature
# (models.kernel_experts.facts_key), so a new kernel that only shares a known kernel's name is
# unseen. Older bundles load and match by name and kind, as they were trained.
# 5: a kernel without an expert borrows the nearest-structure one (``experts.neighbours`` and a
# ``centroid`` per expert). Older bundles load without it, as they were calibrated.
BUNDLE_SCHEMA_VERSION = 5
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)
_STRUCTURE_KEYS_SINCE = 4
MODEL_FILE = "model.ubj"
EXPERTS_DIR = "experts"
MAX_EXPERTS = 4096
METADATA_FILE = "metadata.json"
ARTIFACTS_DIR = Path(__file__).parent / "artifacts"


@dataclasses.dataclass
class ModelBundle:
    model: CostModel
    calibrator: ConfidenceCalibrator
    backend: str
    targets: list[dict[str, Any]]  # [{"device_kind": "cuda", "compute_capability": [9, 0]}]
    threshold: float
    within: float = 0.05  # confidence means "pick within this fraction of the best"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: Path | None = None
    experts: KernelExperts | None = None  # per-kernel models blended into the global scores
    # Kernel keys (models.kernel_experts.facts_key) of every training workload, and the threshold
    # for any other kernel, calibrated on leave-family-out outcomes (> 1: abstain on them). None:
    # ``threshold`` for every kernel (bundles before schema 3, or trained on one kernel).
    known_kernels: frozenset[str] | None = None
    unseen_threshold: float | None = None

    def kernel_key(self, facts: Any) -> str | None:
        """The key this bundle's experts and known-kernel list use for a kernel: name, kind and
        structure signature (schema 4 on); name and kind for older bundles."""
        version = self.metadata.get("schema_version", BUNDLE_SCHEMA_VERSION)
        if type(version) is int and version < _STRUCTURE_KEYS_SINCE:
            return legacy_facts_key(facts)
        return facts_key(facts)

    def knows(self, kernel_key: str | None) -> bool:
        """Whether the training logs held this kernel (always, for a bundle without a list)."""
        return self.known_kernels is None or kernel_key in self.known_kernels

    def threshold_for(self, kernel_key: str | None) -> float:
        """The confidence a pick for this kernel must reach: ``threshold`` for kernels the
        training logs held, ``unseen_threshold`` for the others."""
        if self.unseen_threshold is None or self.knows(kernel_key):
            return self.threshold
        return self.unseen_threshold

    @property
    def min_threshold(self) -> float:
        """The lowest threshold any kernel gets (> 1: the bundle never fires)."""
        return min(self.threshold, self.threshold if self.unseen_threshold is None
                   else self.unseen_threshold)

    def score(self, X: np.ndarray, expert: str | None = None, *,
              overlap: bool = False) -> np.ndarray:
        """Candidate scores for one kernel: the global model, blended with the kernel's expert
        when the bundle has one for key ``expert`` (models.kernel_experts.facts_key), else with
        the nearest-structure kernel's (schema 5). ``overlap``: the expert scores on a helper
        thread meanwhile (bind time; the same numbers)."""
        picked = None if self.experts is None else self.experts.pick(expert, X)
        if picked is None:
            return self.model.score(X)
        model, weight = picked
        if overlap:
            base, scores = overlap_calls.both(lambda: self.model.score(X), lambda: model.score(X))
        else:
            base, scores = self.model.score(X), model.score(X)
        return mix(base, scores, weight)

    def score_rows(self, X: np.ndarray, experts: np.ndarray,
                   groups: np.ndarray | None = None) -> np.ndarray:
        """:meth:`score` for rows of many kernels (``experts``: one key per row; ``groups``: one
        workload id per row, so a kernel without an expert borrows per workload as at bind
        time): offline use."""
        base = self.model.score(X)
        return (base if self.experts is None
                else self.experts.blend_rows(X, experts, base, groups=groups))

    @property
    def name(self) -> str:
        ccs = sorted({f"sm{t['compute_capability'][0]}{t['compute_capability'][1]}" for t in self.targets})
        return f"learned_{self.backend}_{'_'.join(ccs) or 'any'}"

    def matches(self, hw: HardwareFacts) -> bool:
        """Same device kind and compute capability, and, where the target lists ``devices``
        (the GPUs its training data came from), one of those: the H100 model on an H200 (same
        sm90) picked worse than Helion's own default there (reports/online/transfer.md)."""
        return any(t.get("device_kind") == hw.device_kind
                   and tuple(t.get("compute_capability", ())) == hw.compute_capability
                   and _device_listed(t.get("devices"), hw.name)
                   for t in self.targets)

    # -- save ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically: a temp dir next to ``path``, then rename over it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            self.model.booster_.save_model(os.fspath(tmp / MODEL_FILE))
            checksums = {MODEL_FILE: sha256_file(tmp / MODEL_FILE)}
            experts_meta = _save_experts(self.experts, tmp, checksums)
            meta = {
                **self.metadata,
                "schema_version": BUNDLE_SCHEMA_VERSION,
                "feature_schema_version": FEATURE_SCHEMA_VERSION,
                "feature_names": list(FeatureExtractor(backend=self.backend).feature_names),
                "backend": self.backend,
                "targets": self.targets,
                "threshold": self.threshold,
                "within": self.within,
                **({"known_kernels": sorted(self.known_kernels),
                    "unseen_threshold": self.unseen_threshold}
                   if self.known_kernels is not None and self.unseen_threshold is not None
                   else {}),
                "calibrator": self.calibrator.to_dict(),
                "model_params": self.model.get_params(),
                "checksums": checksums,
            }
            if experts_meta is not None:
                meta["experts"] = experts_meta
            else:
                meta.pop("experts", None)
            if self.known_kernels is None or self.unseen_threshold is None:
                meta.pop("known_kernels", None)  # a re-saved older bundle: one threshold
                meta.pop("unseen_threshold", None)
            (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            replace_dir(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path
        self.metadata = meta
        return path

    # -- load ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ModelBundle:
        """Load and check a bundle; any problem raises BundleError naming the file and the fix.

        Nothing in a bundle is executed. ``metadata.json`` is checked field by field; the model
        file must match its sha256, then is decoded and checked in Python (:mod:`.xgb_model`)
        before XGBoost parses it.
        """
        path = Path(path)
        try:
            return cls._load(path)
        except BundleError:
            raise
        except Exception as e:  # a case the checks below missed: still a BundleError, not a crash
            raise BundleError(f"{path}: unusable bundle ({type(e).__name__}: {first_line(e)}); "
                              f"re-copy it or {RETRAIN_HINT}") from e

    @classmethod
    def _load(cls, path: Path) -> ModelBundle:
        meta_path = path / METADATA_FILE
        if not meta_path.is_file():
            raise BundleError(f"{meta_path}: no metadata.json; expected a bundle directory written "
                              "by `helion-learned train -o DIR`")
        meta = read_metadata(meta_path)
        check_version(meta_path, meta, "schema_version", READABLE_SCHEMA_VERSIONS)
        check_version(meta_path, meta, "feature_schema_version", (FEATURE_SCHEMA_VERSION,))
        backend = meta.get("backend") if isinstance(meta.get("backend"), str) else "triton"
        expected_names = list(FeatureExtractor(backend=backend).feature_names)
        names = meta.get("feature_names")
        if names != expected_names:
            got = f"{len(names)} names" if isinstance(names, list) else type(names).__name__
            raise BundleError(f"{meta_path}: feature names differ from this helion_learned's "
                              f"({got} vs {len(expected_names)}); {RETRAIN_HINT}")
        fields = check_metadata(meta_path, meta)
        checksums = meta.get("checksums")
        checksums = checksums if isinstance(checksums, dict) else {}
        model = _load_model(path, MODEL_FILE, checksums, expected_names, fields["model_params"])
        experts = _load_experts(path, meta_path, meta, checksums, expected_names)
        return cls(model=model, calibrator=fields["calibrator"], backend=fields["backend"],
                   targets=fields["targets"], threshold=fields["threshold"],
                   within=fields["within"], metadata=meta, path=path, experts=experts,
                   known_kernels=fields["known_kernels"],
                   unseen_threshold=fields["unseen_threshold"])


def _checked_bytes(path: Path, name: str, checksums: dict[str, Any]) -> bytes:
    """A model file's bytes (``name`` relative to ``path``), after its size and sha256 checks."""
    model_path = path / name
    data = read_limited(model_path, MAX_MODEL_BYTES, "model file")
    expected = checksums.get(name)
    actual = hashlib.sha256(data).hexdigest()
    if expected != actual:
        raise BundleError(f"{model_path}: sha256 {actual[:12]}… does not match metadata "
                          f"({str(expected)[:12]}…); the file is corrupt or was altered. "
                          "Re-copy or re-train the bundle")
    return data


def _load_model(path: Path, name: str, checksums: dict[str, Any], expected_names: list[str],
                params: dict[str, Any]) -> CostModel:
    """One checked model file of the bundle (``name`` relative to ``path``) -> a CostModel."""
    import xgboost as xgb

    model_path = path / name
    data = _checked_bytes(path, name, checksums)
    try:
        canonical = xgb_model.canonical_model_bytes(data, expected_names)
    except xgb_model.ModelFileError as e:
        raise BundleError(f"{model_path}: not a model this helion_learned can use ({e}); "
                          f"re-copy it or {RETRAIN_HINT}") from None
    try:
        booster = xgb.Booster()
        booster.load_model(bytearray(canonical))  # the checked bytes, not the file
        if booster.num_features() != len(expected_names):
            raise ValueError(f"{booster.num_features()} features, expected "
                             f"{len(expected_names)}")
        model = CostModel.from_booster(booster, params=params, n_features=len(expected_names))
        model.score(np.full((1, len(expected_names)), np.nan, dtype=np.float32))
    except (ValueError, TypeError, xgb.core.XGBoostError) as e:
        raise BundleError(f"{model_path}: XGBoost cannot use this model "
                          f"({type(e).__name__}: {first_line(e)}); {RETRAIN_HINT}") from None
    return model


def _save_experts(experts: KernelExperts | None, tmp: Path,
                  checksums: dict[str, str]) -> dict[str, Any] | None:
    if experts is None or not experts.models_:
        return None
    (tmp / EXPERTS_DIR).mkdir()
    kernels = []
    # Numbered files, not kernel names: a name never becomes a path.
    for i, key in enumerate(sorted(experts.models_)):
        name = f"{EXPERTS_DIR}/{i:03d}.ubj"
        experts.models_[key].booster_.save_model(os.fspath(tmp / name))
        checksums[name] = sha256_file(tmp / name)
        entry = {"key": key, "file": name, "n_workloads": experts.n_workloads_[key]}
        if key in experts.centroids_:
            entry["centroid"] = [float(v) for v in experts.centroids_[key]]
        kernels.append(entry)
    out = {"weight": experts.weight, "min_workloads": experts.min_workloads,
           "params": {k: v for k, v in next(iter(experts.models_.values())).get_params().items()
                      if k in EXPERT_PARAMS}, "kernels": kernels}
    if experts.borrows:  # center_ and scale_ are fitted with the centroids
        out["neighbours"] = {"weight": experts.neighbour_weight,
                             "min_workloads": experts.neighbour_min_workloads,
                             "columns": list(STRUCTURE_COLUMNS),
                             "center": [float(v) for v in experts.center_],
                             "scale": [float(v) for v in experts.scale_]}
    return out


def _load_experts(path: Path, meta_path: Path, meta: dict[str, Any], checksums: dict[str, Any],
                  expected_names: list[str]) -> KernelExperts | None:
    raw = meta.get("experts")
    if raw is None:
        return None

    def bad(key: str, expected: str, value: Any) -> BundleError:
        return bad_field(meta_path, f"experts.{key}" if key else "experts", expected, value)

    if meta.get("schema_version") == 1 or not isinstance(raw, dict):
        raise bad("", "an object, in a bundle of schema 2", raw)
    weight = raw.get("weight")
    if not finite(weight) or not 0 <= weight <= 1:
        raise bad("weight", "a number in [0, 1]", weight)
    min_workloads = raw.get("min_workloads", MIN_WORKLOADS)
    if type(min_workloads) is not int or min_workloads < 1:
        raise bad("min_workloads", "a positive integer", min_workloads)
    params = checked_params(meta_path, "experts.params", raw.get("params", EXPERT_PARAMS),
                             drop_unknown=False)
    kernels = raw.get("kernels")
    if not isinstance(kernels, list) or len(kernels) > MAX_EXPERTS:
        raise bad("kernels", f"a list of at most {MAX_EXPERTS} kernels", kernels)
    out = KernelExperts(weight=float(weight), min_workloads=min_workloads)
    loaders: dict[str, Any] = {}
    for i, k in enumerate(kernels):
        key = k.get("key") if isinstance(k, dict) else None
        name = k.get("file") if isinstance(k, dict) else None
        n = k.get("n_workloads") if isinstance(k, dict) else None
        if not isinstance(key, str) or not 0 < len(key) <= 512 or key in loaders:
            raise bad(f"kernels[{i}].key", "a distinct kernel key such as 'matmul/matmul/d7f27ccf'", key)
        if not isinstance(name, str) or not re.fullmatch(rf"{EXPERTS_DIR}/\d{{3,6}}\.ubj", name):
            raise bad(f"kernels[{i}].file", f"'{EXPERTS_DIR}/NNN.ubj'", name)
        if type(n) is not int or n < 1:
            raise bad(f"kernels[{i}].n_workloads", "a positive integer", n)
        # Checked now (a corrupt file fails the load); decoded on first use (models.lazy_models).
        _checked_bytes(path, name, checksums)
        loaders[key] = functools.partial(_load_model, path, name, checksums, expected_names,
                                         params)
        out.n_workloads_[key] = n
    out.models_ = LazyModels(loaders)  # type: ignore[assignment]  # a read-only Mapping
    _load_neighbours(out, raw, kernels, bad, expected_names)
    return out


def _load_neighbours(out: KernelExperts, raw: dict[str, Any], kernels: list[Any], bad: Any,
                     expected_names: list[str]) -> None:
    """The nearest-structure fallback (schema 5), checked; off for bundles without it."""
    nb = raw.get("neighbours")
    if nb is None:
        out.neighbour_weight = 0.0  # as the bundle was trained and calibrated
        return
    if not isinstance(nb, dict):
        raise bad("neighbours", "an object with weight, columns, center and scale", nb)
    weight = nb.get("weight")
    if not finite(weight) or not 0 <= weight <= 1:
        raise bad("neighbours.weight", "a number in [0, 1]", weight)
    columns = nb.get("columns")
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, str) and c in expected_names for c in columns)):
        raise bad("neighbours.columns", "a list of this bundle's kernel feature names", columns)
    n = len(columns)

    def vector(field: str, value: Any, positive: bool = False) -> np.ndarray:
        if (not isinstance(value, list) or len(value) != n
                or not all(finite(v) and (v > 0 or not positive) for v in value)):
            raise bad(field, f"a list of {n} finite numbers{' > 0' if positive else ''}", value)
        return np.asarray(value, dtype=np.float64)

    lenders = nb.get("min_workloads", 1)  # bundles before it: every expert lent
    if type(lenders) is not int or lenders < 1:
        raise bad("neighbours.min_workloads", "a positive integer", lenders)
    out.neighbour_weight = float(weight)
    out.neighbour_min_workloads = lenders
    out.column_index_ = np.array([expected_names.index(c) for c in columns])
    out.center_ = vector("neighbours.center", nb.get("center"))
    out.scale_ = vector("neighbours.scale", nb.get("scale"), positive=True)
    for i, k in enumerate(kernels):
        if "centroid" in k:
            out.centroids_[k["key"]] = vector(f"kernels[{i}].centroid", k["centroid"])


def _device_listed(devices: list[str] | None, name: str) -> bool:
    if not devices:
        return True  # bundles written before device lists: compute capability alone
    upper = name.upper()
    # Logged names vary in detail ("NVIDIA H100" from Helion, "NVIDIA H100 80GB HBM3" from torch)
    return any(d.upper() in upper or upper in d.upper() for d in devices if d)


def shipped_bundles(backend: str) -> list[Path]:
    """Bundle directories shipped as package data for ``backend``."""
    root = ARTIFACTS_DIR / backend
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / METADATA_FILE).is_file())
