"""The one function that turns (kernel facts, hardware, candidate configs) into the model's matrix.

Training and bind-time inference both call :meth:`FeatureExtractor.transform`, so the two cannot
drift. ``FEATURE_SCHEMA_VERSION`` changes whenever a name, order or meaning changes; bundles record
it and refuse to load against a different one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import CONFIG_FEATURES
from .config import TRITON_CONFIG_FEATURES
from .config import config_columns
from .cute_config import CUTE_CONFIG_FEATURES
from .cute_config import cute_columns
from .derived import DERIVED_FEATURES
from .derived import derived_columns
from .derived import hardware_columns
from .derived import kernel_columns
from .facts import KernelFacts
from .feasibility import feasible_columns
from .hardware import HardwareFacts

FEATURE_SCHEMA_VERSION = 3


class FeatureExtractor:
    """Named, ordered feature vectors. Handed to the model (TVM MetaSchedule style)."""

    version: int = FEATURE_SCHEMA_VERSION

    def __init__(self, *, backend: str = "triton") -> None:
        probe_kernel = kernel_columns(_EMPTY_FACTS)
        probe_hw = hardware_columns(_PROBE_HW)
        self.backend = backend
        # Backend-specific config columns go last (cute's knobs; triton's flatten since stop 20).
        extra = CUTE_CONFIG_FEATURES if backend == "cute" else TRITON_CONFIG_FEATURES
        self.feature_names: tuple[str, ...] = (
            *probe_kernel.keys(), *probe_hw.keys(), *CONFIG_FEATURES, *DERIVED_FEATURES, *extra,
        )

    def transform(self, facts: KernelFacts, hw: HardwareFacts,
                  configs: Sequence[dict[str, Any]]) -> np.ndarray:
        """Matrix of shape ``(len(configs), len(feature_names))``, float32, NaN = missing."""
        return self._transform(facts, hw, configs, config_columns(facts, configs))

    def transform_with_feasible(self, facts: KernelFacts, hw: HardwareFacts,
                                configs: Sequence[dict[str, Any]]
                                ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`transform` and :func:`.feasibility.feasible` of the same configs, from one
        pass over them (bind time ranks only the feasible rows)."""
        cfg = config_columns(facts, configs)
        mask = feasible_columns(facts, hw, cfg)  # before cute columns join cfg
        return self._transform(facts, hw, configs, cfg), mask

    def _transform(self, facts: KernelFacts, hw: HardwareFacts,
                   configs: Sequence[dict[str, Any]], cfg: dict[str, np.ndarray]) -> np.ndarray:
        n = len(configs)
        kernel = kernel_columns(facts)
        hardware = hardware_columns(hw)
        if self.backend == "cute":
            cfg.update(cute_columns(configs))
        derived = derived_columns(facts, hw, cfg)
        out = np.empty((n, len(self.feature_names)), dtype=np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            for j, name in enumerate(self.feature_names):
                if name in kernel:
                    out[:, j] = kernel[name]
                elif name in hardware:
                    out[:, j] = hardware[name]
                elif name in cfg:
                    out[:, j] = cfg[name]
                else:
                    out[:, j] = derived[name]
        out[~np.isfinite(out)] = np.nan  # log2(0) etc. are "missing", not infinities
        return out


_EMPTY_FACTS = KernelFacts(kernel_name="", backend="triton", kind="other", blocks=(),
                           grid_block_ids=())
_PROBE_HW = HardwareFacts("cuda", "", (0, 0), 1, 1.0, 1.0, 1.0)
