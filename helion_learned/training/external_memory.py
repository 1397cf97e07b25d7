"""Out-of-core training through XGBoost's own external-memory path (``ExtMemQuantileDMatrix``).

For logs too big to hold as one feature matrix. The logs are read one log base at a time
(``<base>.csv`` + ``.meta.jsonl`` + ``.facts.jsonl``, i.e. one ``HELION_AUTOTUNE_LOG`` target or
one collector shard); each base becomes feature shards (``.npy``) in a cache directory and is
freed before the next is read. XGBoost then streams the shards through a :class:`xgboost.DataIter`
and keeps only its quantised pages (on disk, under the same directory) while it builds trees.

* :func:`fit_external` trains a :class:`~helion_learned.models.ranker.CostModel` from any iterable
  of ``(X, y, groups)`` chunks; the fitted model is the same kind of object ``CostModel.fit``
  returns (``booster_``, ``feature_names_``, ``n_features_in_``) and saves into a normal bundle.
  All three objectives work: rows are sorted by group inside a chunk and ``qid`` is passed along;
  a group must not span two chunks (it never does when chunks are whole workloads).
* :func:`train_bundle_external` is what ``helion-learned train --external-memory DIR`` runs: the
  final model through :func:`fit_external` on *every* workload, and the confidence calibration
  (grouped CV, threshold) in memory on a deterministic sample of at most ``cv_workloads``
  workloads (chosen by a hash of the run id, so independent of file order). The threshold is
  therefore calibrated on CV models trained on the sample; the bundle metadata says so.

Results are close to, not bit-identical with, in-memory training: XGBoost sketches its histogram
bins batch by batch instead of over the whole matrix.

Memory: one log base's workloads plus the CV sample at a time (a single huge log base is still
read whole: split very large logs into several bases). Each workload (Helion ``run_id``) must sit
in one log base; a run id met in a second base is an error, because the in-memory loader would
have merged the two.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..features.vectorize import FeatureExtractor
from ..models.ranker import CostModel
from ..models.ranker import training_arrays
from .dataset import Dataset
from .dataset import Group
from .dataset import build_dataset

Chunk = tuple[np.ndarray, np.ndarray, np.ndarray]  # X (n, f), y (n,), group id per row (n,)
Progress = Callable[[str, int, int], None]


@dataclasses.dataclass
class Shards:
    """Feature shards on disk: one ``(X, y, qid)`` triple of ``.npy`` files per chunk."""

    directory: Path
    files: list[tuple[Path, Path, Path]]
    n_rows: int
    n_groups: int
    n_features: int


def write_shards(chunks: Iterable[Chunk], directory: str | os.PathLike[str]) -> Shards:
    """Write each chunk as ``.npy`` shards, rows sorted by group; group ids become global ``qid``s
    (0, 1, 2, ... in order of first appearance across chunks). Empty chunks are skipped."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files: list[tuple[Path, Path, Path]] = []
    n_rows = n_groups = 0
    n_features = -1
    for X, y, groups in chunks:
        X, y, groups = training_arrays(X, y, groups, who=f"chunk {len(files)}")
        if len(X) == 0:
            continue
        if n_features not in (-1, X.shape[1]):
            raise ValueError(f"chunk {len(files)} has {X.shape[1]} features, earlier chunks "
                             f"{n_features}")
        n_features = X.shape[1]
        order = np.argsort(groups, kind="stable")  # same row order CostModel.fit uses
        _, local = np.unique(groups[order], return_inverse=True)
        qid = (local + n_groups).astype(np.int64)
        i = len(files)
        paths = tuple(directory / f"{name}-{i:05d}.npy" for name in ("X", "y", "qid"))
        for path, array in zip(paths, (X[order], y[order], qid), strict=True):
            np.save(path, np.ascontiguousarray(array))
        files.append(paths)  # type: ignore[arg-type]
        n_rows += len(X)
        n_groups = int(qid[-1]) + 1
    if not files:
        raise ValueError("external-memory training got no rows: are the logs empty?")
    return Shards(directory, files, n_rows, n_groups, n_features)


def _shard_iter(shards: Shards, cache_prefix: str, with_qid: bool) -> Any:
    import xgboost as xgb

    class ShardIter(xgb.DataIter):
        """Hands XGBoost one shard per ``next`` call (read from disk each pass)."""

        def __init__(self) -> None:
            self._i = 0
            super().__init__(cache_prefix=cache_prefix)

        def next(self, input_data: Callable[..., None]) -> bool:
            if self._i == len(shards.files):
                return False
            x_path, y_path, q_path = shards.files[self._i]
            kwargs: dict[str, Any] = {"data": np.load(x_path), "label": np.load(y_path)}
            if with_qid:
                kwargs["qid"] = np.load(q_path)
            input_data(**kwargs)
            self._i += 1
            return True

        def reset(self) -> None:
            self._i = 0

    return ShardIter()


def fit_external(model: CostModel, chunks: Iterable[Chunk] | Shards,
                 cache_dir: str | os.PathLike[str], *,
                 feature_names: tuple[str, ...] | list[str] | None = None,
                 keep_cache: bool = False) -> CostModel:
    """Fit ``model`` (its hyperparameters as set) out of core; returns it, fitted.

    ``chunks`` (e.g. one per log base or per N workloads) are written as shards under a fresh
    temporary folder in ``cache_dir`` together with XGBoost's page cache; the folder is removed
    afterwards unless ``keep_cache``. Pass :class:`Shards` to reuse shards already written.
    """
    import xgboost as xgb

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="helion_learned_extmem_", dir=cache_dir))
    try:
        shards = chunks if isinstance(chunks, Shards) else write_shards(chunks, work / "shards")
        it = _shard_iter(shards, os.fspath(work / "xgb-cache"), model.objective != "regression")
        dtrain = xgb.ExtMemQuantileDMatrix(it, missing=np.nan, nthread=model.n_jobs)
        names = list(feature_names) if feature_names is not None else None
        if names is not None:
            if len(names) != shards.n_features:
                raise ValueError(f"{len(names)} feature names for {shards.n_features} features")
            dtrain.feature_names = names
        model.booster_ = xgb.train(model._xgb_params(), dtrain,
                                   num_boost_round=model.n_estimators)
        model.feature_names_ = tuple(names) if names else None
        model.n_features_in_ = shards.n_features
        del dtrain, it
    finally:
        if not keep_cache:
            shutil.rmtree(work, ignore_errors=True)
    return model


def dataset_chunks(ds: Dataset, workloads_per_chunk: int = 1000) -> Iterator[Chunk]:
    """An in-memory :class:`Dataset` as chunks of whole workloads (tests, small experiments)."""
    for start in range(0, len(ds.groups), workloads_per_chunk):
        rows = np.flatnonzero((ds.row_group >= start)
                              & (ds.row_group < start + workloads_per_chunk))
        yield ds.X[rows], ds.y[rows], ds.row_group[rows]


# -- streaming logs --------------------------------------------------------------------------------


def _sample_key(run_id: str) -> int:
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big")


def _fingerprint_part(g: Group) -> bytes:
    # Exactly what Dataset.fingerprint hashes for one group.
    parts = [g.run_id.encode()]
    parts += [f"{cid}:{ms:.6g};".encode() for cid, ms in zip(g.config_ids, g.perf_ms, strict=True)]
    return b"".join(parts)


@dataclasses.dataclass
class StreamSummary:
    """What the streamed logs held, gathered without keeping them."""

    n_workloads: int = 0
    n_rows: int = 0
    families: set[str] = dataclasses.field(default_factory=set)
    hardware: set[str] = dataclasses.field(default_factory=set)
    targets: set[tuple[str, tuple[int, int]]] = dataclasses.field(default_factory=set)
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    bases: int = 0
    _fingerprint: dict[str, bytes] = dataclasses.field(default_factory=dict, repr=False)

    def fingerprint(self) -> str:
        """Same value :meth:`Dataset.fingerprint` gives for the same logs loaded in memory."""
        h = hashlib.sha256()
        for run_id in sorted(self._fingerprint):
            h.update(self._fingerprint[run_id])
        return h.hexdigest()[:16]


class LogStream:
    """Iterates ``(X, y, groups)`` chunks, one per log base, while it keeps a summary and a
    bottom-``cv_workloads`` sample (by hash of run id) of whole workloads for calibration."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]], *, skip_bad: bool = False,
                 cv_workloads: int = 2000, extractor: FeatureExtractor | None = None,
                 progress: Progress | None = None) -> None:
        self.paths = list(paths)
        self.skip_bad = skip_bad
        self.cv_workloads = cv_workloads
        self.extractor = extractor or FeatureExtractor()
        self.progress = progress
        self.summary = StreamSummary()
        self._seen: dict[str, str] = {}  # run_id -> base it came from
        # max-heap (negated keys) of the sampled workloads: (-key, run_id, group, X, y)
        self._sample: list[tuple[int, str, Group, np.ndarray, np.ndarray]] = []

    def __iter__(self) -> Iterator[Chunk]:
        from .logs import discover_log_bases
        from .logs import load_logs
        from .logs import parsing as lp

        bases = discover_log_bases(self.paths)
        if not bases:
            raise FileNotFoundError(f"no Helion logs under {self.paths}")
        offset = 0
        for i, base in enumerate(bases, start=1):
            files = [f for found in lp.base_files(base).values() for f in found]
            logset = load_logs(files, skip_bad=self.skip_bad)
            for reason, n in logset.skipped.items():
                self.summary.skipped[reason] = self.summary.skipped.get(reason, 0) + n
            for w in logset.workloads:
                first = self._seen.setdefault(w.run_id, str(base))
                if first != str(base):
                    raise ValueError(
                        f"workload {w.run_id[:16]}… ({w.kernel_name}) is in two log bases, "
                        f"{first} and {base}: --external-memory reads one base at a time and "
                        "cannot merge them. Fix: put each workload's logs in one base, or train "
                        "in memory (without --external-memory).")
            ds = build_dataset(logset, extractor=self.extractor)
            del logset
            self._account(ds)
            self.summary.bases = i
            if ds.groups:
                yield ds.X, ds.y, ds.row_group + offset
                offset += len(ds.groups)
            if self.progress is not None:
                self.progress("reading logs into shards", i, len(bases))

    def _account(self, ds: Dataset) -> None:
        s = self.summary
        s.n_workloads += len(ds.groups)
        s.n_rows += len(ds.y)
        for reason, n in ds.dropped.items():
            s.dropped[reason] = s.dropped.get(reason, 0) + n
        for gi, g in enumerate(ds.groups):
            s.families.add(g.family)
            s.hardware.add(g.hardware)
            s.targets.add((g.hw.device_kind, tuple(g.hw.compute_capability)))
            s._fingerprint[g.run_id] = _fingerprint_part(g)
            if self.cv_workloads <= 0:
                continue
            key = _sample_key(g.run_id)
            if len(self._sample) < self.cv_workloads or -self._sample[0][0] > key:
                rows = ds.rows(gi)
                item = (-key, g.run_id, g, ds.X[rows].copy(), ds.y[rows].copy())
                if len(self._sample) < self.cv_workloads:
                    heapq.heappush(self._sample, item)
                else:
                    heapq.heapreplace(self._sample, item)

    def sample_dataset(self) -> Dataset:
        """The sampled workloads as an in-memory Dataset (sorted by run id, like load_logs)."""
        items = sorted(self._sample, key=lambda item: item[1])
        n_features = len(self.extractor.feature_names)
        groups = [item[2] for item in items]
        X = (np.concatenate([item[3] for item in items]) if items
             else np.empty((0, n_features), np.float32))
        y = np.concatenate([item[4] for item in items]) if items else np.empty(0)
        row_group = (np.concatenate([np.full(len(item[4]), i) for i, item in enumerate(items)])
                     if items else np.empty(0, dtype=int)).astype(int)
        return Dataset(groups, X, y, row_group, self.extractor.feature_names,
                       dict(self.summary.dropped), self.extractor.backend)


def train_bundle_external(paths: Iterable[str | os.PathLike[str]],
                          cache_dir: str | os.PathLike[str], *, skip_bad: bool = False,
                          cv_workloads: int = 2000, backend: str | None = None,
                          params: dict[str, Any] | None = None, within: float = 0.05,
                          wrong_budget: float = 0.05, n_jobs: int = 2, seed: int = 0,
                          experts: bool | None = None, progress: Progress | None = None) -> Any:
    """``train_bundle`` for logs that do not fit in memory; see the module docstring.

    Returns a :class:`~helion_learned.training.train.TrainResult` whose outcomes/confidence are
    those of the CV sample. The bundle's ``training_data`` describes *all* workloads (same
    fingerprint as in-memory training on the same logs) plus an ``external_memory`` section.
    """
    from .train import train_bundle

    start = time.perf_counter()
    stream = LogStream(paths, skip_bad=skip_bad, cv_workloads=cv_workloads, progress=progress,
                       extractor=FeatureExtractor(backend=backend or "triton"))
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="helion_learned_shards_", dir=cache_dir))
    try:
        shards = write_shards(stream, work)
        sample = stream.sample_dataset()
        summary = stream.summary
        if summary.n_workloads < 4:
            raise ValueError(f"training needs at least 4 workloads with 2+ successful configs; "
                             f"got {summary.n_workloads} (dropped: {summary.dropped}). "
                             "Collect more logs.")

        def fit_final(final_params: dict[str, Any]) -> CostModel:
            return fit_external(CostModel(**final_params), shards, cache_dir,
                                feature_names=sample.feature_names)

        result = train_bundle(sample, backend=backend, params=params, within=within,
                              wrong_budget=wrong_budget, n_jobs=n_jobs, seed=seed,
                              experts=experts, progress=progress, fit_final=fit_final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bundle = result.bundle
    bundle.targets = [{"device_kind": kind, "compute_capability": list(cc)}
                      for kind, cc in sorted(summary.targets)]
    bundle.metadata["training_data"] = {
        "fingerprint": summary.fingerprint(),
        "n_workloads": summary.n_workloads,
        "n_rows": summary.n_rows,
        "families": sorted(summary.families),
        "hardware": sorted(summary.hardware),
        "dropped": summary.dropped,
    }
    bundle.metadata["external_memory"] = {
        "final_model": "xgboost.ExtMemQuantileDMatrix over per-log-base feature shards",
        "log_bases": summary.bases,
        "calibration_sample_workloads": len(sample.groups),
        "calibration_sample_rows": len(sample.y),
        "skipped": dict(sorted(summary.skipped.items())),
        "note": ("confidence calibration and threshold come from grouped CV on the sample "
                 "(models trained on the sample only); metrics are the sample's; per-kernel "
                 "experts are fitted on the sample"),
    }
    seconds = time.perf_counter() - start
    bundle.metadata["train_seconds"] = seconds
    return dataclasses.replace(result, train_seconds=seconds)
