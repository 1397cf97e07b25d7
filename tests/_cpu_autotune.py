"""Run a real Helion autotune on CPU (TRITON_INTERPRET=1), bypassing the local cache.

LocalAutotuneCache asserts a hardware name, which CPU lacks (integration reference, CPU harness);
this autotuner_fn builds the same search Helion's default would, without the cache wrapper.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any


def uncached_autotuner_fn(bound_kernel: Any, args: Sequence[object], **kwargs: object) -> Any:
    from helion.autotuner import LFBOTreeSearch
    from helion.autotuner.effort_profile import get_effort_profile

    profile = get_effort_profile(bound_kernel.settings.autotune_effort)
    parameters = inspect.signature(LFBOTreeSearch.__init__).parameters
    for k, v in LFBOTreeSearch.get_kwargs_from_profile(profile, bound_kernel.settings).items():
        if k not in kwargs and k in parameters:
            kwargs[k] = v
    return LFBOTreeSearch(bound_kernel, args, **kwargs)


CPU_AUTOTUNE_SETTINGS: dict[str, Any] = {
    "autotuner_fn": uncached_autotuner_fn,
    "autotune_benchmark_subprocess": False,
    "autotune_precompile": None,
    "autotune_ignore_errors": True,
    "autotune_config_overrides": {"pid_type": "flat"},  # persistent pids need an SM count
    "autotune_random_seed": 0,
}
