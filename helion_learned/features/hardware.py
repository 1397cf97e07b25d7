"""HardwareFacts: the target GPU as numbers, read off the device or named explicitly.

A model can be asked to predict for a GPU you are not on (CPU CI, cross-compilation planning), so
every entry point accepts an explicit target: ``HELION_LEARNED_TARGET=sm90`` or ``install(target=...)``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

TARGET_ENV = "HELION_LEARNED_TARGET"


@dataclasses.dataclass(frozen=True)
class HardwareFacts:
    device_kind: str  # "cuda" | "rocm" | ...
    name: str  # as Helion logs it, e.g. "NVIDIA H100 80GB HBM3"
    compute_capability: tuple[int, int]
    sm_count: int
    smem_per_block_kb: float
    l2_mb: float
    mem_bw_tbs: float  # memory bandwidth class; NaN when unknown

    @property
    def cc_tag(self) -> str:
        """``sm90`` style tag, used in heuristic names and artifact folders."""
        return f"sm{self.compute_capability[0]}{self.compute_capability[1]}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["compute_capability"] = list(self.compute_capability)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HardwareFacts:
        kw = dict(data)
        kw["compute_capability"] = tuple(int(x) for x in kw["compute_capability"])
        return cls(**kw)


# Datasheet values (bandwidth) and device-property values (SMs, shared memory, L2) for the GPUs a
# user is likely to name. Keys are lower-case aliases.
_H100 = HardwareFacts("cuda", "NVIDIA H100 80GB HBM3", (9, 0), 132, 227.0, 50.0, 3.35)
_H200 = HardwareFacts("cuda", "NVIDIA H200", (9, 0), 132, 227.0, 60.0, 4.8)
_A100 = HardwareFacts("cuda", "NVIDIA A100-SXM4-80GB", (8, 0), 108, 163.0, 40.0, 2.0)
_B200 = HardwareFacts("cuda", "NVIDIA B200", (10, 0), 148, 227.0, 126.0, 8.0)
_L40S = HardwareFacts("cuda", "NVIDIA L40S", (8, 9), 142, 99.0, 96.0, 0.864)
PRESETS: dict[str, HardwareFacts] = {
    "sm90": _H100, "h100": _H100, "h200": _H200,
    "sm80": _A100, "a100": _A100,
    "sm100": _B200, "b200": _B200,
    "sm89": _L40S, "l40s": _L40S,
}
_BANDWIDTH_BY_NAME = {"H100": 3.35, "H200": 4.8, "A100": 2.0, "B200": 8.0, "L40S": 0.864,
                      "H800": 3.35, "GH200": 4.0, "MI300X": 5.3}


def resolve_target(target: str | HardwareFacts | None) -> HardwareFacts | None:
    """Turn a user-given target into HardwareFacts. ``None`` falls back to ``$HELION_LEARNED_TARGET``.

    Raises ValueError for a name we do not know, listing the ones we do.
    """
    if isinstance(target, HardwareFacts):
        return target
    if target is None:
        target = os.environ.get(TARGET_ENV) or None
        if target is None:
            return None
    key = target.strip().lower().replace("_", "").replace("-", "")
    if key in PRESETS:
        return PRESETS[key]
    raise ValueError(
        f"unknown hardware target {target!r}; expected one of {sorted(PRESETS)} "
        f"(set {TARGET_ENV} or pass install(target=...))"
    )


def from_device(device: Any) -> HardwareFacts:
    """Read HardwareFacts off a live CUDA/ROCm device. Raises RuntimeError on CPU."""
    import torch

    if getattr(device, "type", None) != "cuda" or not torch.cuda.is_available():
        raise RuntimeError(f"no GPU behind device {device!r}; pass an explicit target "
                           f"(e.g. {TARGET_ENV}=sm90)")
    props = torch.cuda.get_device_properties(device)
    name = str(props.name)
    bandwidth = next((bw for key, bw in _BANDWIDTH_BY_NAME.items() if key in name), float("nan"))
    smem = getattr(props, "shared_memory_per_block_optin", 0) or getattr(props, "shared_memory_per_block", 0)
    return HardwareFacts(
        device_kind="rocm" if getattr(torch.version, "hip", None) else "cuda",
        name=name,
        compute_capability=(int(props.major), int(props.minor)),
        sm_count=int(props.multi_processor_count),
        smem_per_block_kb=float(smem) / 1024.0,
        l2_mb=float(getattr(props, "L2_cache_size", 0)) / 2**20,
        mem_bw_tbs=bandwidth,
    )


def from_name(name: str) -> HardwareFacts | None:
    """Best-effort HardwareFacts from a logged hardware name (``"NVIDIA H100 80GB HBM3"``)."""
    upper = name.upper()
    for alias in ("H200", "H100", "A100", "B200", "L40S"):
        if alias in upper:
            preset = PRESETS[alias.lower()]
            return dataclasses.replace(preset, name=name)
    return None
