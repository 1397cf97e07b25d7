"""A read-only mapping of expert models that decodes each one on first use.

A bundle holds one expert per kernel it trained on (63 in the shipped triton bundle). Decoding
and checking a model file in Python (:mod:`.xgb_model`) costs ~50-90 ms, so decoding them all
made loading a bundle take seconds at ``install()``; a program binds a handful of kernels, and a
bind uses one expert. The files' checksums are still verified when the bundle loads (a corrupt
file is reported then); what is deferred is the decode, which reruns the checksum on the bytes
it reads. A decode that fails raises :class:`~.bundle_checks.BundleError` at that bind, which
the adapter turns into an abstention.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping

from .ranker import CostModel


class LazyModels(Mapping[str, CostModel]):
    """``key -> CostModel``; ``loaders[key]()`` builds a model the first time it is asked for."""

    def __init__(self, loaders: Mapping[str, Callable[[], CostModel]]) -> None:
        self._loaders = dict(loaders)
        self._models: dict[str, CostModel] = {}
        self._lock = threading.Lock()  # two threads binding at once decode a model once

    def __getitem__(self, key: str) -> CostModel:
        model = self._models.get(key)
        if model is not None:
            return model
        loader = self._loaders[key]  # KeyError for an unknown key, as a dict
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = self._models[key] = loader()
        return model

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def __contains__(self, key: object) -> bool:
        return key in self._loaders

    @property
    def loaded(self) -> int:
        """How many models have been decoded so far."""
        return len(self._models)
