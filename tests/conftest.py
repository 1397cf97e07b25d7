"""Test configuration: real Helion kernels run on CPU through Triton's interpreter."""

from __future__ import annotations

import os

# Must be set before triton/helion import anything: kernels then execute on CPU tensors.
os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.pop("HELION_LEARNED_TARGET", None)
os.environ.pop("HELION_LEARNED_DISABLE", None)
