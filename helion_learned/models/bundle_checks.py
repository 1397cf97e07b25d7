"""Checks of a bundle's files on load: size limits, metadata fields, versions, checksums.

Every failure is a :class:`BundleError` naming the file, what was expected, what came, and the fix.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .calibration import CONFIDENCE_FEATURES
from .calibration import ConfidenceCalibrator
from .ranker import CostModel


class BundleError(ValueError):
    """A bundle that cannot be used. The message says what was expected, what came, and the fix."""


RETRAIN_HINT = "re-train the bundle with this version (`helion-learned train LOGS -o DIR`)"
MAX_METADATA_BYTES = 16 << 20  # a real metadata.json is a few KB
MAX_MODEL_BYTES = 1 << 30  # 300 trees of depth 7 are 2 MB


def first_line(e: BaseException) -> str:
    """XGBoost errors carry a native stack trace: keep the first line, at most 300 characters."""
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else ""


def read_limited(path: Path, limit: int, what: str) -> bytes:
    if not path.is_file():
        raise BundleError(f"{path}: missing {what}; re-copy the bundle or {RETRAIN_HINT}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise BundleError(f"{path}: cannot read {what} ({e.strerror or e}); check the file's "
                          "permissions or re-copy the bundle") from None
    if len(data) > limit:
        raise BundleError(f"{path}: {what} larger than {limit >> 20} MiB; not a bundle written by "
                          f"helion_learned. Re-copy it or {RETRAIN_HINT}")
    return data


def read_metadata(meta_path: Path) -> dict[str, Any]:
    raw = read_limited(meta_path, MAX_METADATA_BYTES, "metadata.json")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, int limits
        raise BundleError(f"{meta_path}: not valid JSON ({type(e).__name__}: {first_line(e)}); "
                          "re-copy the bundle or re-train it") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}; "
                          "re-copy the bundle or re-train it")
    return meta


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(value: Any) -> bool:
    """A finite int or float (a 5000-digit JSON integer is not: it overflows a float)."""
    try:
        return _is_real(value) and math.isfinite(value)
    except OverflowError:
        return False


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


def bad_field(meta_path: Path, key: str, expected: str, value: Any) -> BundleError:
    return BundleError(f"{meta_path}: {key}: expected {expected}, got {_describe(value)}; "
                       f"restore the original metadata.json or {RETRAIN_HINT}")


def checked_params(meta_path: Path, key: str, raw: Any, *, drop_unknown: bool
                    ) -> dict[str, Any]:
    """``raw`` as CostModel keyword arguments, or a BundleError naming ``key``. The global
    model's params drop unknown names (written by other versions); an expert's refuse them."""
    known = CostModel().get_params()
    if not isinstance(raw, dict):
        raise bad_field(meta_path, key, "an object", raw)
    if not drop_unknown and not set(raw) <= set(known):
        raise bad_field(meta_path, key, f"an object of CostModel parameters ({', '.join(known)})", raw)
    params = {k: v for k, v in raw.items() if k in known}
    try:
        CostModel(**params)
    except (TypeError, ValueError) as e:
        raise bad_field(meta_path, key, f"CostModel parameters ({e})", raw) from None
    return params


def check_metadata(meta_path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The fields the runtime uses, type- and range-checked. Raises BundleError on the first bad
    one: ``<metadata.json>: <key>: expected ..., got ...; <fix>``."""

    def bad(key: str, expected: str, value: Any) -> BundleError:
        return bad_field(meta_path, key, expected, value)

    for key in ("calibrator", "threshold", "backend", "targets"):
        if key not in meta:
            raise BundleError(f"{meta_path}: missing {key!r}; {RETRAIN_HINT}")
    threshold = meta["threshold"]
    if not finite(threshold) or threshold < 0:
        raise bad("threshold", "a finite number >= 0", threshold)
    within = meta.get("within", 0.05)
    if not finite(within) or not 0 < within <= 1:
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
                or not all(finite(v) for v in values)):
            raise bad(f"calibrator.{key}", f"{n} finite numbers", values)
    if not all(v > 0 for v in cal["scale"]):
        raise bad("calibrator.scale", "positive numbers", cal["scale"])
    if not finite(cal.get("intercept")):
        raise bad("calibrator.intercept", "a finite number", cal.get("intercept"))
    params = checked_params(meta_path, "model_params", meta.get("model_params") or {},
                            drop_unknown=True)
    known, unseen = _unseen_gate(meta_path, meta)
    return {"known_kernels": known, "unseen_threshold": unseen,
            "threshold": float(threshold), "within": float(within), "backend": backend,
            "targets": [dict(t, compute_capability=list(t["compute_capability"])) for t in targets],
            "calibrator": ConfidenceCalibrator.from_dict(cal), "model_params": params}


MAX_KNOWN_KERNELS = 65536


def _unseen_gate(meta_path: Path, meta: dict[str, Any]) -> tuple[frozenset[str] | None,
                                                                   float | None]:
    """Schema 3's optional pair: both present or both absent (one threshold for every kernel)."""
    if "known_kernels" not in meta and "unseen_threshold" not in meta:
        return None, None
    known, unseen = meta.get("known_kernels"), meta.get("unseen_threshold")
    if (not isinstance(known, list) or len(known) > MAX_KNOWN_KERNELS
            or not all(isinstance(k, str) and 0 < len(k) <= 512 for k in known)):
        raise bad_field(meta_path, "known_kernels",
                        "a list of kernel keys such as 'matmul/matmul/d7f27ccf' (with unseen_threshold)",
                        known)
    if not finite(unseen) or unseen < 0:
        raise bad_field(meta_path, "unseen_threshold",
                        "a finite number >= 0 (with known_kernels)", unseen)
    return frozenset(known), float(unseen)


def check_version(meta_path: Path, meta: dict[str, Any], key: str,
                   readable: tuple[int, ...]) -> None:
    got = meta.get(key)
    if type(got) is not int or got not in readable:  # not True, not 1.0
        names = [str(v) for v in readable]
        reads = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise BundleError(f"{meta_path}: {key}={_describe(got)}, this helion_learned reads "
                          f"{reads}. Re-train the bundle with this version "
                          "(`helion-learned train LOGS -o DIR`) or install the helion_learned "
                          "version that wrote it")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
