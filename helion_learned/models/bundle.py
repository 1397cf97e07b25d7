"""Model bundles on disk: ``model.ubj`` (XGBoost's native format) + ``metadata.json``. No pickle.

A bundle is data, not code: loading one never executes anything from it. The model file's sha256 is
recorded in the metadata and checked on load; so are the bundle and feature schema versions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..features.hardware import HardwareFacts
from ..features.vectorize import FEATURE_SCHEMA_VERSION
from ..features.vectorize import FeatureExtractor
from . import xgb_model
from .calibration import CONFIDENCE_FEATURES
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
            digest = _sha256(tmp / MODEL_FILE)
            meta = {
                **self.metadata,
                "schema_version": BUNDLE_SCHEMA_VERSION,
                "feature_schema_version": FEATURE_SCHEMA_VERSION,
                "feature_names": list(FeatureExtractor(backend=self.backend).feature_names),
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
            raise BundleError(f"{path}: unusable bundle ({type(e).__name__}: {_first_line(e)}); "
                              f"re-copy it or {_RETRAIN}") from e

    @classmethod
    def _load(cls, path: Path) -> ModelBundle:
        import xgboost as xgb

        meta_path = path / METADATA_FILE
        if not meta_path.is_file():
            raise BundleError(f"{meta_path}: no metadata.json; expected a bundle directory written "
                              "by `helion-learned train -o DIR`")
        meta = _read_metadata(meta_path)
        _check_version(meta_path, meta, "schema_version", BUNDLE_SCHEMA_VERSION)
        _check_version(meta_path, meta, "feature_schema_version", FEATURE_SCHEMA_VERSION)
        backend = meta.get("backend") if isinstance(meta.get("backend"), str) else "triton"
        expected_names = list(FeatureExtractor(backend=backend).feature_names)
        names = meta.get("feature_names")
        if names != expected_names:
            got = f"{len(names)} names" if isinstance(names, list) else type(names).__name__
            raise BundleError(f"{meta_path}: feature names differ from this helion_learned's "
                              f"({got} vs {len(expected_names)}); {_RETRAIN}")
        fields = _check_metadata(meta_path, meta)
        model_path = path / MODEL_FILE
        data = _read_limited(model_path, MAX_MODEL_BYTES, "model file")
        checksums = meta.get("checksums")
        expected = checksums.get(MODEL_FILE) if isinstance(checksums, dict) else None
        actual = hashlib.sha256(data).hexdigest()
        if expected != actual:
            raise BundleError(f"{model_path}: sha256 {actual[:12]}… does not match metadata "
                              f"({str(expected)[:12]}…); the file is corrupt or was altered. "
                              "Re-copy or re-train the bundle")
        try:
            canonical = xgb_model.canonical_model_bytes(data, expected_names)
        except xgb_model.ModelFileError as e:
            raise BundleError(f"{model_path}: not a model this helion_learned can use ({e}); "
                              f"re-copy it or {_RETRAIN}") from None
        try:
            booster = xgb.Booster()
            booster.load_model(bytearray(canonical))  # the checked bytes, not the file
            if booster.num_features() != len(expected_names):
                raise ValueError(f"{booster.num_features()} features, expected "
                                 f"{len(expected_names)}")
            model = CostModel.from_booster(booster, params=fields["model_params"],
                                           n_features=len(expected_names))
            model.score(np.full((1, len(expected_names)), np.nan, dtype=np.float32))
        except (ValueError, TypeError, xgb.core.XGBoostError) as e:
            raise BundleError(f"{model_path}: XGBoost cannot use this model "
                              f"({type(e).__name__}: {_first_line(e)}); {_RETRAIN}") from None
        return cls(model=model, calibrator=fields["calibrator"], backend=fields["backend"],
                   targets=fields["targets"], threshold=fields["threshold"],
                   within=fields["within"], metadata=meta, path=path)


_RETRAIN = "re-train the bundle with this version (`helion-learned train LOGS -o DIR`)"
MAX_METADATA_BYTES = 16 << 20  # a real metadata.json is a few KB
MAX_MODEL_BYTES = 1 << 30  # 300 trees of depth 7 are 2 MB


def _first_line(e: BaseException) -> str:
    """XGBoost errors carry a native stack trace: keep the first line, at most 300 characters."""
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else ""


def _read_limited(path: Path, limit: int, what: str) -> bytes:
    if not path.is_file():
        raise BundleError(f"{path}: missing {what}; re-copy the bundle or {_RETRAIN}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise BundleError(f"{path}: cannot read {what} ({e.strerror or e}); check the file's "
                          "permissions or re-copy the bundle") from None
    if len(data) > limit:
        raise BundleError(f"{path}: {what} larger than {limit >> 20} MiB; not a bundle written by "
                          f"helion_learned. Re-copy it or {_RETRAIN}")
    return data


def _read_metadata(meta_path: Path) -> dict[str, Any]:
    raw = _read_limited(meta_path, MAX_METADATA_BYTES, "metadata.json")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, int limits
        raise BundleError(f"{meta_path}: not valid JSON ({type(e).__name__}: {_first_line(e)}); "
                          "re-copy the bundle or re-train it") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}; "
                          "re-copy the bundle or re-train it")
    return meta


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    """A finite int or float (a 5000-digit JSON integer is not: it overflows a float)."""
    try:
        return _is_real(value) and math.isfinite(value)
    except OverflowError:
        return False


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


def _check_metadata(meta_path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The fields the runtime uses, type- and range-checked. Raises BundleError on the first bad
    one: ``<metadata.json>: <key>: expected ..., got ...; <fix>``."""

    def bad(key: str, expected: str, value: Any) -> BundleError:
        return BundleError(f"{meta_path}: {key}: expected {expected}, got {_describe(value)}; "
                           f"restore the original metadata.json or {_RETRAIN}")

    for key in ("calibrator", "threshold", "backend", "targets"):
        if key not in meta:
            raise BundleError(f"{meta_path}: missing {key!r}; {_RETRAIN}")
    threshold = meta["threshold"]
    if not _finite(threshold) or threshold < 0:
        raise bad("threshold", "a finite number >= 0", threshold)
    within = meta.get("within", 0.05)
    if not _finite(within) or not 0 < within <= 1:
        raise bad("within", "a number in (0, 1]", within)
    backend = meta["backend"]
    if not isinstance(backend, str) or not backend.isidentifier() or len(backend) > 64:
        raise bad("backend", "a backend name such as 'triton'", backend)
    targets = meta["targets"]
    if not isinstance(targets, list) or not 1 <= len(targets) <= 64:
        raise bad("targets", "a non-empty list of {device_kind, compute_capability}", targets)
    for i, t in enumerate(targets):
        cc = t.get("compute_capability") if isinstance(t, dict) else None
        kind = t.get("device_kind") if isinstance(t, dict) else None
        if (not isinstance(kind, str) or not kind.isidentifier() or len(kind) > 32
                or not isinstance(cc, list) or len(cc) != 2
                or not all(type(x) is int and 0 <= x < 1000 for x in cc)):
            raise bad(f"targets[{i}]", '{"device_kind": "cuda", "compute_capability": [9, 0]}', t)
        devices = t.get("devices")
        if devices is not None and (
                not isinstance(devices, list) or len(devices) > 64
                or not all(isinstance(d, str) and 0 < len(d) <= 128 for d in devices)):
            raise bad(f"targets[{i}].devices", "a list of GPU names such as 'NVIDIA H100'",
                      devices)
    cal = meta["calibrator"]
    n = len(CONFIDENCE_FEATURES)
    if not isinstance(cal, dict) or cal.get("features") != list(CONFIDENCE_FEATURES):
        raise bad("calibrator", f"an object with features {list(CONFIDENCE_FEATURES)}", cal)
    for key in ("coef", "mean", "scale"):
        values = cal.get(key)
        if (not isinstance(values, list) or len(values) != n
                or not all(_finite(v) for v in values)):
            raise bad(f"calibrator.{key}", f"{n} finite numbers", values)
    if not all(v > 0 for v in cal["scale"]):
        raise bad("calibrator.scale", "positive numbers", cal["scale"])
    if not _finite(cal.get("intercept")):
        raise bad("calibrator.intercept", "a finite number", cal.get("intercept"))
    raw_params = meta.get("model_params") or {}
    if not isinstance(raw_params, dict):
        raise bad("model_params", "an object", raw_params)
    known = CostModel().get_params()
    params = {k: v for k, v in raw_params.items() if k in known}
    try:
        CostModel(**params)
    except (TypeError, ValueError) as e:
        raise bad("model_params", f"CostModel parameters ({e})", raw_params) from None
    return {"threshold": float(threshold), "within": float(within), "backend": backend,
            "targets": [dict(t, compute_capability=list(t["compute_capability"])) for t in targets],
            "calibrator": ConfidenceCalibrator.from_dict(cal), "model_params": params}


def _device_listed(devices: list[str] | None, name: str) -> bool:
    if not devices:
        return True  # bundles written before device lists: compute capability alone
    upper = name.upper()
    # Logged names vary in detail ("NVIDIA H100" from Helion, "NVIDIA H100 80GB HBM3" from torch)
    return any(d.upper() in upper or upper in d.upper() for d in devices if d)


def _check_version(meta_path: Path, meta: dict[str, Any], key: str, expected: int) -> None:
    got = meta.get(key)
    if type(got) is not int or got != expected:  # not True, not 1.0
        raise BundleError(f"{meta_path}: {key}={_describe(got)}, this helion_learned reads "
                          f"{expected}. Re-train the bundle with this version "
                          "(`helion-learned train LOGS -o DIR`) or install the helion_learned "
                          "version that wrote it")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` into place at ``dst``; an old ``dst`` is renamed away first, then deleted.

    Savers of the same ``dst`` (two trainings writing one bundle, in any processes) take turns
    through a lock file next to it, so each swap is whole: ``dst`` always ends up one complete
    bundle, and no temp, old or lock file is left behind. Without ``fcntl`` (Windows) a swap
    that loses a race is retried instead.
    """
    with _dir_lock(dst):
        # Old copies only live inside the lock: any found now are from a saver that died mid-swap.
        for stale in dst.parent.glob(f".{glob.escape(dst.name)}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        olds = []
        for attempt in range(50):
            old = dst.with_name(f".{dst.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.replace(dst, old)
                olds.append(old)
            except FileNotFoundError:
                pass  # no previous bundle
            try:
                os.replace(src, dst)
                break
            except OSError:  # another saver put its bundle there first (no lock): again
                if attempt == 49 or not dst.exists():
                    raise
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _dir_lock(dst: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``.<name>.lock`` next to ``dst``; the file is removed after."""
    try:
        import fcntl
    except ImportError:  # Windows: _replace_dir retries instead
        yield
        return
    lock = dst.with_name(f".{dst.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break  # locked the file that is still there (not one a holder just unlinked)
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)  # while still holding it; late comers notice and lock the new file
        os.close(fd)


def shipped_bundles(backend: str) -> list[Path]:
    """Bundle directories shipped as package data for ``backend``."""
    root = ARTIFACTS_DIR / backend
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / METADATA_FILE).is_file())
