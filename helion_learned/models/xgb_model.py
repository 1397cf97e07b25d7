"""Check an XGBoost ``model.ubj`` in Python before XGBoost's native parser sees it.

XGBoost's C++ UBJSON reader is not hardened against malformed input: a few flipped bytes in a model
file (with the bundle checksum recomputed) can crash the process with a segmentation fault, at load
or at the first prediction. So a bundle's model file is decoded here by a strict, bounds-checked
UBJSON reader, checked against the one model layout we write (a single-target ``gbtree`` of
numerical splits over our feature columns, every tree a proper binary tree with in-range children
and feature indices), and re-encoded; XGBoost then parses only these re-encoded bytes.

Anything unexpected raises :class:`ModelFileError` (a ValueError) saying what is wrong.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

_MAX_DEPTH = 32  # our models nest 6 deep
_INT_MARKERS = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8"}
_FLOAT_MARKERS = {b"d": ">f4", b"D": ">f8"}
_NUMERIC = {**_INT_MARKERS, **_FLOAT_MARKERS}
_MARKER_OF_DTYPE = {np.dtype(v).newbyteorder("="): k for k, v in _NUMERIC.items()}
_ROOT_PARENT = 2147483647  # XGBoost writes the root's parent as kInvalidNodeId & 0x7fffffff
OBJECTIVES = frozenset({"reg:squarederror", "rank:pairwise", "rank:ndcg", "rank:map"})


class ModelFileError(ValueError):
    """The model file is not a well-formed XGBoost gbtree model of the expected layout."""


# -- strict UBJSON reader -----------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelFileError(f"truncated at byte {self.pos} (wanted {n} more bytes)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def marker(self) -> bytes:
        return bytes(self.take(1))

    def peek(self) -> bytes:
        if self.pos >= len(self.data):
            raise ModelFileError(f"truncated at byte {self.pos}")
        return bytes(self.data[self.pos:self.pos + 1])

    def number(self, marker: bytes) -> int | float:
        dtype = np.dtype(_NUMERIC[marker])
        value = np.frombuffer(self.take(dtype.itemsize), dtype=dtype)[0]
        return int(value) if marker in _INT_MARKERS else float(value)

    def length(self) -> int:
        marker = self.marker()
        if marker not in _INT_MARKERS:
            raise ModelFileError(f"byte {self.pos - 1}: expected a length, got marker {marker!r}")
        n = int(self.number(marker))
        if n < 0 or n > len(self.data) - self.pos:
            raise ModelFileError(f"byte {self.pos}: length {n} runs past the end of the file")
        return n

    def string(self) -> str:
        n = self.length()
        try:
            return str(self.take(n), "utf-8")
        except UnicodeDecodeError as e:
            raise ModelFileError(f"byte {self.pos - n}: string is not UTF-8 ({e.reason})") from None

    def value(self, marker: bytes, depth: int) -> Any:
        if marker in _INT_MARKERS:
            return self.number(marker)
        if marker in _FLOAT_MARKERS:
            return Float(self.number(marker), marker)
        if marker == b"S":
            return self.string()
        if marker == b"T":
            return True
        if marker == b"F":
            return False
        if marker == b"Z":
            return None
        if marker in (b"[", b"{"):
            if depth >= _MAX_DEPTH:
                raise ModelFileError(f"byte {self.pos}: nested deeper than {_MAX_DEPTH}")
            return self.array(depth + 1) if marker == b"[" else self.object(depth + 1)
        raise ModelFileError(f"byte {self.pos - 1}: unsupported UBJSON marker {marker!r}")

    def array(self, depth: int) -> list[Any] | np.ndarray:
        if self.peek() == b"$":
            self.take(1)
            elem = self.marker()
            if elem not in _NUMERIC:
                raise ModelFileError(f"byte {self.pos - 1}: typed array of {elem!r} not supported")
            if self.marker() != b"#":
                raise ModelFileError(f"byte {self.pos - 1}: typed array without a count")
            count = self.length()
            dtype = np.dtype(_NUMERIC[elem])
            if count * dtype.itemsize > len(self.data) - self.pos:
                raise ModelFileError(f"byte {self.pos}: array of {count} runs past the end")
            raw = self.take(count * dtype.itemsize)
            return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
        if self.peek() == b"#":
            self.take(1)
            return [self.value(self.marker(), depth) for _ in range(self.length())]
        out = []
        while (marker := self.marker()) != b"]":
            out.append(self.value(marker, depth))
        return out

    def object(self, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.peek() in (b"$", b"#"):
            if self.marker() == b"$":
                raise ModelFileError(f"byte {self.pos - 1}: typed objects not supported")
            for _ in range(self.length()):
                self._member(out, depth)
            return out
        while self.peek() != b"}":
            self._member(out, depth)
        self.take(1)
        return out

    def _member(self, out: dict[str, Any], depth: int) -> None:
        key = self.string()
        if key in out:
            raise ModelFileError(f"byte {self.pos}: duplicate key {key!r}")
        out[key] = self.value(self.marker(), depth)


class Float(float):
    """A UBJSON float that remembers its width (``d`` float32 or ``D`` float64)."""

    marker: bytes

    def __new__(cls, value: float, marker: bytes) -> Float:
        self = super().__new__(cls, value)
        self.marker = marker
        return self


def decode(data: bytes) -> Any:
    """Strictly decode one UBJSON value filling all of ``data``. Raises ModelFileError."""
    reader = _Reader(data)
    value = reader.value(reader.marker(), 0)
    if reader.pos != len(data):
        raise ModelFileError(f"{len(data) - reader.pos} trailing bytes after the model")
    return value


# -- canonical UBJSON writer (the layout XGBoost itself writes) --------------------------------
def _int(value: int) -> bytes:
    # XGBoost's writer picks the narrowest of i/I/l whose range holds the value strictly inside.
    for marker in (b"i", b"I", b"l"):
        dtype = np.dtype(_INT_MARKERS[marker])
        if np.iinfo(dtype).min < value < np.iinfo(dtype).max:
            return marker + np.array(value, dtype=dtype).tobytes()
    if -(1 << 63) <= value < (1 << 63):
        return b"L" + struct.pack(">q", value)
    raise ModelFileError(f"integer {value} does not fit in 64 bits")


def _len(n: int) -> bytes:
    return b"L" + struct.pack(">q", n)


def encode(value: Any) -> bytes:
    """Encode a :func:`decode` result back to UBJSON (iteratively: no recursion limit)."""
    out: list[bytes] = []
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bytes):  # pre-encoded piece (closing markers, keys)
            out.append(v)
        elif v is None:
            out.append(b"Z")
        elif v is True or v is False:
            out.append(b"T" if v else b"F")
        elif isinstance(v, Float):
            out.append(v.marker + np.array(float(v), dtype=_FLOAT_MARKERS[v.marker]).tobytes())
        elif isinstance(v, int):
            out.append(_int(v))
        elif isinstance(v, float):
            out.append(b"D" + struct.pack(">d", v))
        elif isinstance(v, str):
            raw = v.encode("utf-8")
            out.append(b"S" + _len(len(raw)) + raw)
        elif isinstance(v, np.ndarray):
            marker = _MARKER_OF_DTYPE[v.dtype.newbyteorder("=")]
            out.append(b"[$" + marker + b"#" + _len(v.size)
                       + v.astype(_NUMERIC[marker]).tobytes())
        elif isinstance(v, list):
            out.append(b"[#" + _len(len(v)))
            stack.extend(reversed(v))
        elif isinstance(v, dict):
            out.append(b"{")
            stack.append(b"}")
            for key, item in reversed(list(v.items())):
                raw = key.encode("utf-8")
                stack.append(item)
                stack.append(_len(len(raw)) + raw)
        else:  # pragma: no cover - decode() produces nothing else
            raise ModelFileError(f"cannot encode {type(v).__name__}")
    return b"".join(out)


# -- the model layout ---------------------------------------------------------------------------
def _get(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ModelFileError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelFileError(f"{where}.{key}: expected {_kind_name(kind)}, got "
                             f"{type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _int_param(obj: Any, key: str, where: str) -> int:
    text = _get(obj, key, str, where)
    try:
        return int(text)
    except ValueError:
        raise ModelFileError(f"{where}.{key}: expected an integer string, "
                             f"got {text[:40]!r}") from None


def _typed(tree: dict[str, Any], key: str, n: int, kinds: str, where: str) -> np.ndarray:
    arr = _get(tree, key, np.ndarray, where)
    if arr.dtype.kind not in kinds or arr.ndim != 1 or arr.size != n:
        raise ModelFileError(f"{where}.{key}: expected {n} values of kind {kinds!r}, got "
                             f"{arr.size} of {arr.dtype}")
    return arr


def _check_tree(tree: Any, index: int, n_features: int) -> None:
    where = f"trees[{index}]"
    if not isinstance(tree, dict):
        raise ModelFileError(f"{where}: expected an object")
    if _get(tree, "id", int, where) != index:
        raise ModelFileError(f"{where}.id: {tree['id']} != {index}")
    param = _get(tree, "tree_param", dict, where)
    n = _int_param(param, "num_nodes", f"{where}.tree_param")
    if not 1 <= n <= (1 << 24):
        raise ModelFileError(f"{where}: {n} nodes")
    if _int_param(param, "num_deleted", f"{where}.tree_param") != 0:
        raise ModelFileError(f"{where}: deleted nodes are not supported")
    if _int_param(param, "num_feature", f"{where}.tree_param") != n_features:
        raise ModelFileError(f"{where}: num_feature != {n_features}")
    if _int_param(param, "size_leaf_vector", f"{where}.tree_param") not in (0, 1):
        raise ModelFileError(f"{where}: vector leaves (multi-target trees) are not supported")
    left = _typed(tree, "left_children", n, "i", where).astype(np.int64)
    right = _typed(tree, "right_children", n, "i", where).astype(np.int64)
    parents = _typed(tree, "parents", n, "iu", where).astype(np.int64)
    split = _typed(tree, "split_indices", n, "iu", where).astype(np.int64)
    default_left = _typed(tree, "default_left", n, "iu", where)
    split_type = _typed(tree, "split_type", n, "iu", where)
    for key in ("split_conditions", "base_weights"):
        if not np.isfinite(_typed(tree, key, n, "f", where)).all():
            raise ModelFileError(f"{where}.{key}: non-finite values")
    for key in ("loss_changes", "sum_hessian"):
        _typed(tree, key, n, "f", where)
    for key in ("categories", "categories_nodes", "categories_segments", "categories_sizes"):
        if key in tree and _get(tree, key, (np.ndarray, list), where).__len__():
            raise ModelFileError(f"{where}: categorical splits are not supported")
    if ((split < 0) | (split >= n_features)).any():
        raise ModelFileError(f"{where}.split_indices: feature index outside [0, {n_features})")
    if not np.isin(default_left, (0, 1)).all() or (split_type != 0).any():
        raise ModelFileError(f"{where}: default_left must be 0/1 and split_type 0 (numerical)")
    leaf = left == -1
    if (leaf != (right == -1)).any():
        raise ModelFileError(f"{where}: a node has exactly one child")
    internal = ~leaf
    kids = np.concatenate([left[internal], right[internal]])
    if ((kids < 1) | (kids >= n)).any():
        raise ModelFileError(f"{where}: child index outside [1, {n})")
    # A proper tree: every non-root node is the child of exactly one node, which is its parent.
    if np.bincount(kids, minlength=n)[1:].tolist() != [1] * (n - 1):
        raise ModelFileError(f"{where}: nodes are not one binary tree (shared or orphan nodes)")
    owners = np.concatenate([np.flatnonzero(internal), np.flatnonzero(internal)])
    if parents[0] != _ROOT_PARENT or (parents[kids] != owners).any():
        raise ModelFileError(f"{where}.parents: inconsistent with the children")
    # Each node has one parent and the root none, so the graph is a forest of in-trees; with
    # n - 1 edges and one root it is a tree unless it has a cycle; walk from the root to be sure.
    seen = np.zeros(n, dtype=bool)
    stack = [0]
    while stack:
        i = stack.pop()
        if seen[i]:
            raise ModelFileError(f"{where}: cycle at node {i}")
        seen[i] = True
        if internal[i]:
            stack.extend((int(left[i]), int(right[i])))
    if not seen.all():
        raise ModelFileError(f"{where}: {int((~seen).sum())} nodes unreachable from the root")


def check(doc: Any, feature_names: Sequence[str]) -> None:
    """Raise ModelFileError unless ``doc`` is a single-target numerical gbtree over
    ``feature_names`` (the layout :class:`~helion_learned.models.ranker.CostModel` writes)."""
    n_features = len(feature_names)
    learner = _get(doc, "learner", dict, "model")
    version = _get(doc, "version", list, "model")
    if len(version) != 3 or not all(type(v) is int for v in version):
        raise ModelFileError(f"model.version: expected 3 integers, got {version!r}"[:120])
    params = _get(learner, "learner_model_param", dict, "learner")
    got = _int_param(params, "num_feature", "learner.learner_model_param")
    if got != n_features:
        raise ModelFileError(f"the model has {got} input features, this helion_learned computes "
                             f"{n_features}")
    if (_int_param(params, "num_target", "learner.learner_model_param") != 1
            or _int_param(params, "num_class", "learner.learner_model_param") != 0):
        raise ModelFileError("multi-target / multi-class models are not supported")
    _get(params, "base_score", str, "learner.learner_model_param")
    names = _get(learner, "feature_names", (list, np.ndarray), "learner")
    if len(names) and list(names) != list(feature_names):
        raise ModelFileError("learner.feature_names differ from this helion_learned's features")
    types = _get(learner, "feature_types", (list, np.ndarray), "learner")
    if not all(isinstance(t, str) and t != "c" for t in types):
        raise ModelFileError("learner.feature_types: categorical or malformed feature types")
    objective = _get(_get(learner, "objective", dict, "learner"), "name", str, "learner.objective")
    if objective not in OBJECTIVES:
        raise ModelFileError(f"objective {objective[:40]!r} is not one of {sorted(OBJECTIVES)}")
    booster = _get(learner, "gradient_booster", dict, "learner")
    if _get(booster, "name", str, "gradient_booster") != "gbtree":
        raise ModelFileError(f"booster {str(booster['name'])[:40]!r} is not supported "
                             "(gbtree only)")
    model = _get(booster, "model", dict, "gradient_booster")
    trees = _get(model, "trees", list, "gradient_booster.model")
    gparam = _get(model, "gbtree_model_param", dict, "gradient_booster.model")
    if (_int_param(gparam, "num_trees", "gbtree_model_param") != len(trees)
            or _int_param(gparam, "num_parallel_tree", "gbtree_model_param") != 1):
        raise ModelFileError(f"gbtree_model_param disagrees with the {len(trees)} trees")
    info = np.asarray(_get(model, "tree_info", (list, np.ndarray), "gradient_booster.model"))
    if info.shape != (len(trees),) or (len(trees) and (info != 0).any()):
        raise ModelFileError("tree_info: expected one 0 per tree (single target)")
    if "iteration_indptr" in model:
        indptr = model["iteration_indptr"]
        if (not isinstance(indptr, (list, np.ndarray))
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                           for v in indptr)
                or list(indptr) != list(range(len(trees) + 1))):
            raise ModelFileError("iteration_indptr: expected 0..num_trees (one tree per round)")
    cats = model.get("cats", {})
    if not isinstance(cats, dict) or any(
            not isinstance(v, (list, np.ndarray)) or len(v) for v in cats.values()):
        raise ModelFileError("categorical feature encodings are not supported")
    for i, tree in enumerate(trees):
        _check_tree(tree, i, n_features)
    base = _get(params, "base_score", str, "learner.learner_model_param").strip("[]")
    try:
        if not all(math.isfinite(float(x)) for x in base.split(",")):
            raise ValueError
    except ValueError:
        raise ModelFileError(f"base_score {base[:40]!r} is not a finite number") from None


def canonical_model_bytes(data: bytes, feature_names: Sequence[str]) -> bytes:
    """Decode, check and re-encode a ``model.ubj``: the bytes to hand to XGBoost."""
    doc = decode(data)
    check(doc, feature_names)
    return encode(doc)
