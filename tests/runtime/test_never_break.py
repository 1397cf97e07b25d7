"""Never break a compile: broken, hostile or foreign bundles never fail a bind or a kernel run.

Property tests (Hypothesis, derandomized) over real suite kernels bound on CPU (TRITON_INTERPRET=1)
with a deliberately broken bundle installed. Each broken bundle is either rejected when it is
loaded (``install(model_dirs=[...])`` raises BundleError naming the file and the fix; the same
bundle shipped as package data is skipped with a WARNING) or installs but abstains at bind time
with a DEBUG line saying why. Either way every bind builds its config spec, the kernel runs and
matches torch (fp32/fp16: the interpreter computes bf16 arithmetic wrongly, so bf16 only binds),
and no learned heuristic fires. The bundles' models are trained on SYNTHETIC random features: they
exercise failure handling, never quality.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import math
import re
import shutil
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import helion
import numpy as np
import pytest
import torch
import xgboost as xgb
from helion._compiler import autotuner_heuristics as ah
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import helion_learned
from helion_learned.features.vectorize import FEATURE_SCHEMA_VERSION
from helion_learned.features.vectorize import FeatureExtractor
from helion_learned.models import bundle as bundle_module
from helion_learned.models import bundle_checks
from helion_learned.models import xgb_model
from helion_learned.models.bundle import BundleError
from helion_learned.models.bundle import ModelBundle
from helion_learned.models.calibration import ConfidenceCalibrator
from helion_learned.models.calibration import confidence_features
from helion_learned.models.ranker import CostModel
from helion_learned.registration import FactsRecorder
from helion_learned.training.suite.interpret import apply_cpu_patches
from helion_learned.training.suite.registry import SUITE

PROPERTY = settings(derandomize=True, deadline=None, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example,
                                           HealthCheck.function_scoped_fixture])
NAMES = list(FeatureExtractor().feature_names)
FIX = re.compile(r"re-train|re-copy|restore", re.IGNORECASE)
F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16
_BASE_TOL = {F32: (1e-4, 1e-4), F16: (1e-2, 1e-2)}
_counter = itertools.count()


# -- synthetic bundles ----------------------------------------------------------------------------
def _train(n_features: int = len(NAMES), *, names: list[str] | None = NAMES, seed: int = 0,
           booster: str = "gbtree") -> CostModel:
    rs = np.random.RandomState(seed)
    X = rs.randn(240, n_features).astype(np.float32)
    y = 1.0 / (1.0 + np.abs(X[:, 0]))  # SYNTHETIC label
    groups = np.repeat(np.arange(12), 20)
    if booster != "gbtree":
        model = CostModel(n_estimators=4)
        model.booster_ = xgb.train({"booster": booster, "nthread": 1},
                                   xgb.DMatrix(X, label=y, feature_names=names), 4)
        return model
    return CostModel(n_estimators=8, max_depth=3, random_state=seed, n_jobs=1).fit(
        X, y, groups, feature_names=names)


def make_bundle(path: Path, *, backend: str = "triton", cc: tuple[int, int] = (9, 0),
                threshold: float = 0.0) -> Path:
    names = list(FeatureExtractor(backend=backend).feature_names)  # cute has more columns
    model = _train(len(names), names=names)
    X = np.random.RandomState(1).randn(240, len(names)).astype(np.float32)
    feats = np.stack([confidence_features(model.score(X[i * 20:(i + 1) * 20])) for i in range(12)])
    calibrator = ConfidenceCalibrator().fit(feats, np.arange(12) % 2 == 0)
    ModelBundle(model=model, calibrator=calibrator, backend=backend,
                targets=[{"device_kind": "cuda", "compute_capability": list(cc)}],
                threshold=threshold, metadata={"note": "SYNTHETIC never-break test bundle"},
                ).save(path)
    return path


@functools.cache
def _model_bytes(n_features: int, shuffled: bool = False, booster: str = "gbtree") -> bytes:
    names = [f"f{i}" for i in range(n_features)] if n_features != len(NAMES) else list(NAMES)
    if shuffled:
        names = names[1:] + names[:1]
    model = _train(n_features, names=names, booster=booster)
    return bytes(model.booster_.save_raw("ubj"))


def write_variant(good: Path, dst: Path, *, model: bytes | None = None,
                  meta_edit: Callable[[dict[str, Any]], Any] | None = None,
                  meta_raw: bytes | None = None, fix_checksum: bool = True) -> Path:
    """Copy ``good`` to ``dst`` and break it; the checksum is recomputed unless told otherwise, so
    a broken model file gets past the checksum and reaches the model parser."""
    shutil.copytree(good, dst)
    if model is not None:
        (dst / "model.ubj").write_bytes(model)
    if meta_raw is None:
        meta = json.loads((good / "metadata.json").read_text())
        if fix_checksum and (dst / "model.ubj").is_file():
            digest = hashlib.sha256((dst / "model.ubj").read_bytes()).hexdigest()
            meta["checksums"] = {"model.ubj": digest}
        if meta_edit is not None:
            meta_edit(meta)
        meta_raw = json.dumps(meta).encode()  # allow_nan: NaN/Infinity literals reach the loader
    (dst / "metadata.json").write_bytes(meta_raw)
    return dst


def _edit_model_doc(good: Path, edit: Callable[[dict[str, Any]], None]) -> bytes:
    doc = xgb_model.decode((good / "model.ubj").read_bytes())
    edit(doc)
    return xgb_model.encode(doc)


def _trees(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["learner"]["gradient_booster"]["model"]["trees"]


# -- broken bundles (rejected at load) ----------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Broken:
    name: str
    file: str  # the file the error must name ("" = the bundle directory)
    build: Callable[[Path, Path], Path]  # (good bundle, destination) -> bundle dir

    def __repr__(self) -> str:  # short Hypothesis falsifying examples
        return f"Broken({self.name})"


def _model_case(name: str, data: Callable[[Path], bytes], *, fix: bool = True) -> Broken:
    return Broken(name, "model.ubj",
                  lambda good, dst: write_variant(good, dst, model=data(good), fix_checksum=fix))


def _meta_case(key: str, value: Any, file: str = "metadata.json") -> Broken:
    def edit(meta: dict[str, Any]) -> None:  # runs after the checksum fix-up
        if value is _DELETE:
            del meta[key]
        else:
            meta[key] = value

    return Broken(f"{key}={value!r}"[:80], file,
                  lambda good, dst: write_variant(good, dst, meta_edit=edit))


def _calibrator_case(key: str, value: Any) -> Broken:
    def edit(meta: dict[str, Any]) -> None:
        meta["calibrator"][key] = value

    return Broken(f"calibrator.{key}={value!r}"[:80], "metadata.json",
                  lambda good, dst: write_variant(good, dst, meta_edit=edit))


def _raw_case(name: str, text: Callable[[Path], bytes]) -> Broken:
    return Broken(name, "metadata.json",
                  lambda good, dst: write_variant(good, dst, meta_raw=text(good)))


_DELETE = object()
_NAN, _INF = float("nan"), float("inf")
_junk = st.one_of(st.none(), st.booleans(), st.text(max_size=12),
                  st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
_not_number = _junk  # never a real number (the loader rejects bools as numbers too)
_bad_float = st.one_of(st.sampled_from([_NAN, _INF, -_INF]),
                       st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False))


def _good_meta(good: Path) -> dict[str, Any]:
    return json.loads((good / "metadata.json").read_text())


def _nested(depth: int) -> Callable[[Path], bytes]:
    def text(good: Path) -> bytes:
        meta = json.dumps(_good_meta(good))
        return (meta[:-1] + ', "note": ' + "[" * depth + "]" * depth + "}").encode()

    return text


def _with_prefix(prefix: bytes) -> Callable[[Path], bytes]:
    return lambda good: prefix + json.dumps(_good_meta(good)).encode()


def _replace_in_meta(field: str, raw_value: str) -> Callable[[Path], bytes]:
    def text(good: Path) -> bytes:
        meta = _good_meta(good)
        meta[field] = "@@"
        return json.dumps(meta).replace('"@@"', raw_value).encode()

    return text


def _huge_metadata(good: Path) -> bytes:
    meta = _good_meta(good)
    meta["note"] = "x" * (bundle_checks.MAX_METADATA_BYTES + 1)
    return json.dumps(meta).encode()


def _set_leaves(value: float) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for tree in _trees(doc):
            leaves = tree["left_children"] == -1
            tree["split_conditions"] = np.where(leaves, np.float32(value),
                                                tree["split_conditions"]).astype(np.float32)

    return edit


def _tree_edit(key: str,
               fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        tree = _trees(doc)[0]
        tree[key] = fn(tree[key].copy())

    return edit


def _set(arr: np.ndarray, i: int, v: int) -> np.ndarray:
    arr[i] = v
    return arr


@st.composite
def broken_bundles(draw: st.DrawFn) -> Broken:
    kind = draw(st.sampled_from(["truncated", "random", "model_doc", "foreign_model", "metadata",
                                 "targets", "calibrator", "json"]))
    if kind == "truncated":
        frac = draw(st.floats(0.0, 0.999))
        return _model_case(f"truncated at {frac:.3f}",
                           lambda g: (g / "model.ubj").read_bytes()[
                               :int(frac * (g / "model.ubj").stat().st_size)])
    if kind == "random":
        prefix = draw(st.sampled_from([b"", b"{", b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{",
                                       b"[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff"]))
        junk = draw(st.binary(max_size=512))
        return _model_case(f"random bytes {len(prefix + junk)}", lambda g: prefix + junk)
    if kind == "model_doc":  # well-formed UBJSON, wrong model: XGBoost must never see it
        name, edit = draw(st.sampled_from([
            ("child out of range", _tree_edit("left_children", lambda a: _set(a, 0, 10**6))),
            ("child cycle", _tree_edit("left_children", lambda a: _set(a, 0, 0))),
            ("one child", _tree_edit("right_children", lambda a: _set(a, 0, -1))),
            ("feature index", _tree_edit("split_indices", lambda a: _set(a, 0, 10**6))),
            ("negative feature", _tree_edit("split_indices", lambda a: _set(a, 0, -5))),
            ("short array", _tree_edit("parents", lambda a: a[:-1])),
            ("float children", _tree_edit("left_children", lambda a: a.astype(np.float32))),
            ("NaN leaves", _set_leaves(_NAN)),
            ("inf leaves", _set_leaves(_INF)),
            ("num_nodes", lambda d: _trees(d)[0]["tree_param"].update(num_nodes="999999")),
            ("num_trees", lambda d: d["learner"]["gradient_booster"]["model"][
                "gbtree_model_param"].update(num_trees="7")),
            ("objective", lambda d: d["learner"]["objective"].update(name="reg:gamma")),
            ("multi target", lambda d: d["learner"]["learner_model_param"].update(num_target="3")),
            ("base_score", lambda d: d["learner"]["learner_model_param"].update(base_score="[x]")),
            ("no learner", lambda d: d.pop("learner")),
            ("trees not a list", lambda d: d["learner"]["gradient_booster"]["model"].update(
                trees={"0": 1})),
        ]))
        return _model_case(f"model doc: {name}", lambda g: _edit_model_doc(g, edit))
    if kind == "foreign_model":
        name, data = draw(st.sampled_from([
            ("10 features", lambda g: _model_bytes(10)),
            ("90 features", lambda g: _model_bytes(len(NAMES) + 1)),
            ("1 feature", lambda g: _model_bytes(1)),
            ("shuffled feature names", lambda g: _model_bytes(len(NAMES), shuffled=True)),
            ("gblinear", lambda g: _model_bytes(len(NAMES), booster="gblinear")),
            ("dart", lambda g: _model_bytes(len(NAMES), booster="dart")),
            ("JSON model", lambda g: bytes(xgb_json(g))),
            ("empty file", lambda g: b""),
        ]))
        return _model_case(f"model: {name}", data)
    if kind == "metadata":
        key, value = draw(st.one_of(
            st.tuples(st.just("threshold"), st.one_of(_not_number, _bad_float)),
            st.tuples(st.just("within"), st.one_of(
                _not_number, st.sampled_from([_NAN, _INF, 0, -0.5, 2.0, 1e300]))),
            st.tuples(st.just("backend"), st.one_of(
                st.sampled_from([None, 5, "", "x" * 100_000, "../../etc", "tri ton", ["triton"]]))),
            # Unreadable versions only: 2 was one until bundle schema 2 became readable (a
            # schema-2 bundle loads, with one threshold), so the next versions come from the
            # reader's own constants.
            st.tuples(st.just("schema_version"), st.sampled_from(
                [True, 1.0, "1", max(bundle_module.READABLE_SCHEMA_VERSIONS) + 1, 0, -1, None,
                 10**30])),
            st.tuples(st.just("feature_schema_version"), st.sampled_from(
                [True, 1.0, "1", FEATURE_SCHEMA_VERSION - 1, FEATURE_SCHEMA_VERSION + 1, 0, -1,
                 None, 10**30])),
            st.tuples(st.just("feature_names"),
                      st.sampled_from([None, 5, "k_kind_matmul", NAMES[:-1], NAMES[::-1]])),
            st.tuples(st.just("model_params"),
                      st.sampled_from([[1, 2], "x", {"objective": "bogus"}])),
            st.tuples(st.just("checksums"),
                      st.sampled_from([None, [], {"model.ubj": 5}, {"model.ubj": "0" * 64}])),
            st.tuples(st.sampled_from(["calibrator", "threshold", "backend", "targets"]),
                      st.just(_DELETE)),
        ))
        return _meta_case(key, value, "model.ubj" if key == "checksums" else "metadata.json")
    if kind == "targets":
        value = draw(st.one_of(
            st.sampled_from(["cuda", {"device_kind": "cuda"}, 90, [], [[9, 0]], [None],
                             [{"device_kind": 5, "compute_capability": [9, 0]}],
                             [{"device_kind": "cuda", "compute_capability": "90"}],
                             [{"device_kind": "cuda", "compute_capability": [9]}],
                             [{"device_kind": "cuda", "compute_capability": [9.0, 0.0]}],
                             [{"device_kind": "cuda", "compute_capability": [True, False]}],
                             [{"device_kind": "cuda", "compute_capability": [-1, 0]}],
                             [{"device_kind": "cuda", "compute_capability": [10**6, 0]}],
                             [{"device_kind": "cuda", "compute_capability": [9, 0]}] * 10_000]),
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                      st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)),
        ))
        return _meta_case("targets", value)
    if kind == "calibrator":
        key, value = draw(st.one_of(
            st.tuples(st.sampled_from(["coef", "mean", "scale"]), st.one_of(
                st.lists(st.floats(-3, 3), max_size=9).filter(lambda v: len(v) != 5),
                st.sampled_from([[1, 2, 3, 4, "5"], [_NAN] * 5, [_INF] * 5, "12345", None,
                                 [[1]] * 5, [True] * 5]))),
            st.tuples(st.just("scale"), st.sampled_from([[0.0] * 5, [-1.0] * 5])),
            st.tuples(st.just("intercept"), st.one_of(_not_number, st.sampled_from([_NAN, _INF]))),
            st.tuples(st.just("features"), st.sampled_from([None, [], ["top1"], "top1"])),
        ))
        if draw(st.booleans()) and key == "coef":
            return _meta_case("calibrator", draw(_junk))
        return _calibrator_case(key, value)
    name, text = draw(st.sampled_from([
        ("deeply nested", _nested(100_000)),
        ("huge string", _huge_metadata),
        ("invalid UTF-8", _with_prefix(b"\xff\xfe")),
        ("UTF-8 BOM", _with_prefix(b"\xef\xbb\xbf")),
        ("empty", lambda g: b""),
        ("top-level list", lambda g: b"[1, 2, 3]"),
        ("top-level NaN", lambda g: b"NaN"),
        ("truncated JSON", lambda g: json.dumps(_good_meta(g)).encode()[:-7]),
        ("5000-digit threshold", _replace_in_meta("threshold", "9" * 5000)),
        ("1e999 threshold", _replace_in_meta("threshold", "1e999")),
        ("NaN threshold literal", _replace_in_meta("threshold", "NaN")),
        ("-Infinity within", _replace_in_meta("within", "-Infinity")),
        ("NUL bytes", lambda g: b"\0" * 64),
    ]))
    return _raw_case(f"json: {name}", text)


def xgb_json(good: Path) -> bytearray:
    booster = xgb.Booster()
    booster.load_model(bytearray((good / "model.ubj").read_bytes()))
    return booster.save_raw("json")


# -- harness --------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _cpu_harness() -> None:
    apply_cpu_patches()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("never_break")


@pytest.fixture(scope="module")
def good(workdir: Path) -> Path:
    return make_bundle(workdir / "good")


@pytest.fixture(scope="module")
def foreign(workdir: Path, good: Path) -> dict[str, Path]:
    """Bundles that load but must never fire for a triton kernel on sm90."""
    doc_huge = _edit_model_doc(good, _set_leaves(3e38))  # finite leaves, infinite sums

    def overflow(meta: dict[str, Any]) -> None:  # finite numbers; z = inf - inf = NaN
        meta["calibrator"].update(mean=[-1e308] * 5, scale=[1e-300] * 5,
                                  coef=[1.0, -1.0, 1.0, -1.0, 1.0])

    return {
        "cute": make_bundle(workdir / "cute", backend="cute"),
        "sm80": make_bundle(workdir / "sm80", cc=(8, 0)),
        "huge_leaves": write_variant(good, workdir / "huge_leaves", model=doc_huge),
        "calibrator_overflow": write_variant(good, workdir / "overflow", meta_edit=overflow),
    }


# Why each foreign bundle stays out of a triton/sm90 bind: (level, text in the log line).
FOREIGN_REASON = {
    "cute": (logging.DEBUG, "for Helion backend 'cute'"),
    "sm80": (logging.DEBUG, "is not a target of this model"),
    "huge_leaves": (logging.DEBUG, "non-finite scores"),
    "calibrator_overflow": (logging.DEBUG, "non-finite confidence"),
}


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    before = dict(ah.HEURISTICS_BY_BACKEND)
    yield
    helion_learned.uninstall()
    assert ah.HEURISTICS_BY_BACKEND == before


@contextlib.contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("helion_learned")
    handler, level = _Handler(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def has_log(records: list[logging.LogRecord], level: int, text: str) -> bool:
    return any(r.levelno == level and text in r.getMessage() for r in records)


def fresh_dir(workdir: Path, name: str) -> Path:
    path = workdir / f"case{next(_counter)}"
    path.mkdir()
    return path / name


def ours_registered() -> bool:
    return any(getattr(h, "_helion_learned", False)
               for hs in ah.HEURISTICS_BY_BACKEND.values() for h in hs)


kernel_cases = st.tuples(st.sampled_from(sorted(SUITE)), st.sampled_from([F32, F16, BF16]),
                         st.integers(0, 1))


def bind_and_run(family: str, dtype: torch.dtype, shape_index: int) -> Any:
    """Bind a fresh copy of a suite kernel (no cached bind), run it unless bf16, return the spec."""
    sk = SUITE[family]
    shape = sk.tiny_shapes[shape_index % len(sk.tiny_shapes)]
    kernel = helion.kernel(sk.kernel.fn, **{**sk.kernel.settings.to_dict(),
                                            "autotune_effort": "none"})
    torch.manual_seed(0)
    args = sk.make_args(shape, dtype, "cpu")
    spec = kernel.bind(args).env.config_spec
    assert spec is not None and spec.block_sizes is not None
    if dtype in _BASE_TOL:
        rtol, atol = (max(t, b) for t, b in zip((sk.rtol, sk.atol), _BASE_TOL[dtype], strict=True))
        torch.testing.assert_close(kernel(*args), sk.reference(*args), rtol=rtol, atol=atol)
    return spec


def assert_no_learned(spec: Any) -> None:
    fired = [name for name in spec.autotuner_heuristics if name.startswith("learned_")]
    assert not fired, fired


# -- the properties -------------------------------------------------------------------------------
def test_control_good_bundle_fires(good: Path) -> None:
    """The harness can see a learned heuristic fire, so 'not fired' below means something."""
    helion_learned.install(target="sm90", model_dirs=[good], threshold=0.0)
    for family in ("matmul_fp16", "softmax_bf16", "add_fp32"):
        spec = bind_and_run(family, F32, 0)
        assert "learned_triton_sm90" in spec.autotuner_heuristics, family


@settings(PROPERTY, max_examples=160)
@given(broken=broken_bundles())
def test_broken_bundle_is_rejected_by_install(workdir: Path, good: Path, broken: Broken) -> None:
    event(re.split(r"[ :=]", broken.name)[0])
    path = broken.build(good, fresh_dir(workdir, "bundle"))
    with pytest.raises(BundleError) as info:
        helion_learned.install(target="sm90", model_dirs=[path], threshold=0.0)
    message = str(info.value)
    assert str(path / broken.file) in message, message
    assert FIX.search(message), message
    assert len(message) < 2000, message  # no native stack traces or megabyte strings
    assert not ours_registered()


@settings(PROPERTY, max_examples=40)
@given(broken=broken_bundles(), case=kernel_cases)
def test_broken_shipped_bundle_is_skipped_and_binds_work(workdir: Path, good: Path,
                                                         broken: Broken, case: tuple) -> None:
    root = fresh_dir(workdir, "artifacts")
    broken.build(good, root / "triton" / "cuda_sm90")
    with mock.patch.object(bundle_module, "ARTIFACTS_DIR", root), captured_logs() as logs:
        try:
            installed = helion_learned.install(target="sm90", threshold=0.0, promote=True)
            assert [h.name for h in installed] == [FactsRecorder.name]
            assert has_log(logs, logging.WARNING, f"skipping shipped bundle {root}")
            assert_no_learned(bind_and_run(*case))
        finally:
            helion_learned.uninstall()


@settings(PROPERTY, max_examples=45)
@given(names=st.lists(st.sampled_from(sorted(FOREIGN_REASON)), min_size=1, max_size=4,
                      unique=True),
       case=kernel_cases, promote=st.booleans(), top_k=st.integers(1, 3))
def test_foreign_or_absurd_bundles_abstain_at_bind(foreign: dict[str, Path], names: list[str],
                                                   case: tuple, promote: bool,
                                                   top_k: int) -> None:
    with captured_logs() as logs:
        try:
            helion_learned.install(target="sm90", model_dirs=[foreign[n] for n in names],
                                   threshold=0.0, promote=promote, top_k=top_k)
            spec = bind_and_run(*case)
        finally:
            helion_learned.uninstall()
    assert_no_learned(spec)
    for name in names:
        level, text = FOREIGN_REASON[name]
        assert has_log(logs, level, text), (name, [r.getMessage() for r in logs][-5:])


_flips = st.lists(st.tuples(st.floats(0, 0.9999), st.integers(0, 255)), min_size=1, max_size=8)


@settings(PROPERTY, max_examples=250)
@given(flips=_flips, truncate=st.booleans())
def test_corrupted_model_never_crashes_the_loader(workdir: Path, good: Path,
                                                  flips: list[tuple[float, int]],
                                                  truncate: bool) -> None:
    """Byte flips with the checksum fixed up: XGBoost 3.2's parser segfaults on some of these
    when handed the file directly; through ModelBundle.load they are rejected or harmless."""
    data = bytearray((good / "model.ubj").read_bytes())
    for frac, byte in flips:
        data[int(frac * len(data))] = byte
    if truncate:
        data = data[:int(flips[0][0] * len(data))]
    path = write_variant(good, fresh_dir(workdir, "flipped"), model=bytes(data))
    try:
        bundle = ModelBundle.load(path)
    except BundleError as e:
        assert str(path) in str(e) and FIX.search(str(e)), str(e)
        return
    X = np.random.RandomState(0).randn(64, len(NAMES)).astype(np.float32)
    assert bundle.model.score(X).shape == (64,)  # a model that loads also predicts


# -- hostile environments: methods Helion calls outside its try/except --------------------------
class _Boom(Exception):
    pass


class _BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded too")


class HostileEnv:
    """Every attribute access raises; so do hashing, comparison, truth and str()."""

    def __init__(self, exc: type[Exception]) -> None:
        object.__setattr__(self, "_exc", exc)

    def _raise(self, what: str) -> Any:
        raise object.__getattribute__(self, "_exc")(what)

    def __getattr__(self, name: str) -> Any:
        return self._raise(f"no {name} for you")

    def __hash__(self) -> int:
        return self._raise("__hash__")

    def __eq__(self, other: object) -> bool:
        return self._raise("__eq__")

    def __bool__(self) -> bool:
        return self._raise("__bool__")

    def __str__(self) -> str:
        return self._raise("__str__")

    def __repr__(self) -> str:  # Hypothesis prints falsifying examples
        return f"HostileEnv({object.__getattribute__(self, '_exc').__name__})"


class _Settings:
    def __init__(self, autotune_log: Any) -> None:
        self.autotune_log = autotune_log

    def to_dict(self) -> dict[str, Any]:
        raise _Boom("settings")


class HalfEnv:
    """Looks like a CompileEnvironment until you touch the wrong attribute."""

    def __init__(self, exc: type[Exception], log_path: Any) -> None:
        self.settings = _Settings(log_path)
        self.backend_name = "triton"
        self._exc = exc

    @property
    def device(self) -> Any:
        raise self._exc("device")

    @property
    def config_spec(self) -> Any:
        raise self._exc("config_spec")

    @property
    def runtime_arg_values_by_name(self) -> Any:
        raise self._exc("runtime args")


class _BadPath:
    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        raise _Boom("no path")

    __fspath__ = __str__


_exceptions = st.sampled_from([RuntimeError, AttributeError, TypeError, ValueError, KeyError,
                               RecursionError, MemoryError, _Boom, _BadStr])


@st.composite
def hostile_envs(draw: st.DrawFn) -> Any:
    exc = draw(_exceptions)
    kind = draw(st.sampled_from(["hostile", "half", "none", "int", "object", "str"]))
    if kind == "hostile":
        return HostileEnv(exc)
    if kind == "half":
        log_path = draw(st.sampled_from([None, "", _BadPath(), "/nonexistent/dir/x", 0, 3.5]))
        return HalfEnv(exc, log_path)
    return {"none": None, "int": 42, "object": object(), "str": "env"}[kind]


@settings(PROPERTY, max_examples=120)
@given(env=hostile_envs(), device_ir=st.sampled_from([None, 0, object()]),
       target=st.sampled_from([None, "sm90"]), promote=st.booleans())
def test_heuristic_methods_never_raise_on_weird_envs(good: Path, env: Any, device_ir: Any,
                                                     target: str | None, promote: bool) -> None:
    try:
        with captured_logs():
            installed = helion_learned.install(target=target, model_dirs=[good], promote=promote,
                                               threshold=0.0)
            assert len(installed) == 2
            for heuristic in installed:
                assert heuristic.should_promote(env) in (True, False)
                assert heuristic.register_facts(env, device_ir) == frozenset()
                # Helion wraps these two in try/except; they do not raise either.
                assert heuristic.is_eligible(env, device_ir) is False
                assert heuristic.get_seed_configs(env, device_ir) is None
                assert heuristic.get_seed_config(env, device_ir) is None
    finally:
        helion_learned.uninstall()


def test_hostile_env_reasons_are_logged(good: Path) -> None:
    installed = helion_learned.install(model_dirs=[good], promote=True, threshold=0.0)
    env = HalfEnv(_BadStr, "/nonexistent/dir/log")
    with captured_logs() as logs:
        for heuristic in installed:
            assert heuristic.should_promote(env) is False
            assert heuristic.register_facts(env, None) == frozenset()
        learned = installed[0]
        assert learned.is_eligible(HostileEnv(RuntimeError), None) is False
    assert has_log(logs, logging.DEBUG, "no hardware to predict for (_BadStr)")
    assert has_log(logs, logging.DEBUG, "facts sidecar not written")


def test_nan_threshold_override_is_refused(good: Path) -> None:
    with pytest.raises(ValueError, match="NaN"):
        helion_learned.install(target="sm90", model_dirs=[good], threshold=math.nan)
    assert not ours_registered()


def test_checked_model_is_byte_identical_and_predicts_the_same(good: Path) -> None:
    """XGBoost-written models pass the Python check unchanged (the shipped one included)."""
    shipped = bundle_module.ARTIFACTS_DIR / "triton" / "cuda_sm90" / "model.ubj"
    for path in (good / "model.ubj", *([shipped] if shipped.is_file() else [])):
        data = path.read_bytes()
        assert xgb_model.canonical_model_bytes(data, NAMES) == data
    bundle = ModelBundle.load(good)
    direct = xgb.Booster()
    direct.load_model(str(good / "model.ubj"))
    X = np.random.RandomState(2).randn(128, len(NAMES)).astype(np.float32)
    X[X > 1.5] = np.nan
    np.testing.assert_array_equal(bundle.model.score(X),
                                  direct.inplace_predict(X, missing=np.nan).astype(np.float64))
