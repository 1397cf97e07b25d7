"""Model bundles on disk: ``model.ubj`` (XGBoost's native format) + ``metadata.json``. No pickle.

A bundle is data, not code: loading one never executes anything from it. The model file's sha256 is
recorded in the metadata and checked on load; so are the bundle and feature schema versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..features.hardware import HardwareFacts
from ..features.vectorize import FEATURE_SCHEMA_VERSION
from ..features.vectorize import FeatureExtractor
from .calibration import ConfidenceCalibrator
from .ranker import CostModel

BUNDLE_SCHEMA_VERSION = 1
MODEL_FILE = "model.ubj"
METADATA_FILE = "metadata.json"
ARTIFACTS_DIR = Path(__file__).parent / "artifacts"


class BundleError(ValueError):
    """A bundle that cannot be used. The message says what was expected, what came, and the fix."""


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

    @property
    def name(self) -> str:
        ccs = sorted({f"sm{t['compute_capability'][0]}{t['compute_capability'][1]}" for t in self.targets})
        return f"learned_{self.backend}_{'_'.join(ccs) or 'any'}"

    def matches(self, hw: HardwareFacts) -> bool:
        return any(t.get("device_kind") == hw.device_kind
                   and tuple(t.get("compute_capability", ())) == hw.compute_capability
                   for t in self.targets)

    # -- save ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically: a temp dir next to ``path``, then rename over it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            self.model.booster_.save_model(os.fspath(tmp / MODEL_FILE))
            digest = _sha256(tmp / MODEL_FILE)
            meta = {
                **self.metadata,
                "schema_version": BUNDLE_SCHEMA_VERSION,
                "feature_schema_version": FEATURE_SCHEMA_VERSION,
                "feature_names": list(FeatureExtractor().feature_names),
                "backend": self.backend,
                "targets": self.targets,
                "threshold": self.threshold,
                "within": self.within,
                "calibrator": self.calibrator.to_dict(),
                "model_params": self.model.get_params(),
                "checksums": {MODEL_FILE: digest},
            }
            (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            _replace_dir(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path
        self.metadata = meta
        return path

    # -- load ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ModelBundle:
        import xgboost as xgb

        path = Path(path)
        meta_path = path / METADATA_FILE
        if not meta_path.is_file():
            raise BundleError(f"{meta_path}: no metadata.json; expected a bundle directory written "
                              "by `helion-learned train -o DIR`")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BundleError(f"{meta_path}: not valid JSON ({e}); re-train or re-copy the bundle") from e
        if not isinstance(meta, dict):
            raise BundleError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}")
        _check_version(meta_path, meta, "schema_version", BUNDLE_SCHEMA_VERSION)
        _check_version(meta_path, meta, "feature_schema_version", FEATURE_SCHEMA_VERSION)
        expected_names = list(FeatureExtractor().feature_names)
        if meta.get("feature_names") != expected_names:
            raise BundleError(f"{meta_path}: feature names differ from this helion_learned's "
                              f"({len(meta.get('feature_names') or [])} vs {len(expected_names)}); "
                              "re-train the bundle with this version (`helion-learned train`)")
        model_path = path / MODEL_FILE
        expected = (meta.get("checksums") or {}).get(MODEL_FILE)
        if not model_path.is_file():
            raise BundleError(f"{model_path}: missing model file")
        actual = _sha256(model_path)
        if expected != actual:
            raise BundleError(f"{model_path}: sha256 {actual[:12]}… does not match metadata "
                              f"({str(expected)[:12]}…); the file is corrupt or was altered. "
                              "Re-copy or re-train the bundle")
        try:
            booster = xgb.Booster()
            booster.load_model(os.fspath(model_path))
            calibrator = ConfidenceCalibrator.from_dict(meta["calibrator"])
            threshold = float(meta["threshold"])
            backend = str(meta["backend"])
            targets = list(meta["targets"])
        except (KeyError, TypeError, ValueError, xgb.core.XGBoostError) as e:
            raise BundleError(f"{path}: malformed bundle ({type(e).__name__}: {e}); re-train it") from e
        params = {k: v for k, v in (meta.get("model_params") or {}).items()
                  if k in CostModel().get_params()}
        model = CostModel.from_booster(booster, params=params, n_features=len(expected_names))
        return cls(model=model, calibrator=calibrator, backend=backend, targets=targets,
                   threshold=threshold, within=float(meta.get("within", 0.05)), metadata=meta,
                   path=path)


def _check_version(meta_path: Path, meta: dict[str, Any], key: str, expected: int) -> None:
    got = meta.get(key)
    if got != expected:
        raise BundleError(f"{meta_path}: {key}={got!r}, this helion_learned reads {expected}. "
                          "Re-train the bundle with this version (`helion-learned train LOGS -o DIR`) "
                          "or install the helion_learned version that wrote it")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` into place at ``dst``; an old ``dst`` is renamed away first, then deleted."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def shipped_bundles(backend: str) -> list[Path]:
    """Bundle directories shipped as package data for ``backend``."""
    root = ARTIFACTS_DIR / backend
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / METADATA_FILE).is_file())
