"""Which tile axis runs along the stride-1 dimension of the kernel's main input.

A row sum and a column mean have the same facts (one contiguous grid block, one full-slice
reduction) but opposite memory behaviour: the row sum reduces along the stride-1 axis, the column
mean across it, so its grid tile alone decides how many contiguous bytes each load touches. The
facts' per-block ``contiguous`` flag cannot tell them apart (the output store marks the grid axis
stride-1 in both); the recorded input shapes and strides can.
"""

from __future__ import annotations

import dataclasses
import math

from .facts import KernelFacts

# Bytes per element of the dtype strings the facts record (``str(torch.dtype)``).
_ITEMSIZE = {
    "torch.float64": 8, "torch.int64": 8, "torch.complex64": 8,
    "torch.float32": 4, "torch.int32": 4, "torch.uint32": 4,
    "torch.float16": 2, "torch.bfloat16": 2, "torch.int16": 2, "torch.uint16": 2,
    "torch.float8_e4m3fn": 1, "torch.float8_e5m2": 1, "torch.int8": 1, "torch.uint8": 1,
    "torch.bool": 1,
}


@dataclasses.dataclass(frozen=True)
class ContiguousAxis:
    """What covers the stride-1 dimension of the largest input."""

    block: int | None  # index into ``facts.blocks``; None: a persistent or looped reduction
    extent: int  # length of that dimension
    itemsize: int  # bytes per element of that input


def reduction_extent(facts: KernelFacts) -> int | None:
    if facts.reductions and facts.reductions[0].get("size_hint"):
        return int(facts.reductions[0]["size_hint"])
    return int(facts.reduction_loop_extents[0]) if facts.reduction_loop_extents else None


def contiguous_axis(facts: KernelFacts) -> ContiguousAxis | None:
    """None when the facts cannot say (no inputs, unknown dtype, no block of that length)."""
    if not facts.inputs:
        return None
    main = max(facts.inputs, key=lambda x: math.prod(x.get("shape") or [0]))
    shape, stride = main.get("shape") or [], main.get("stride") or []
    itemsize = _ITEMSIZE.get(str(main.get("dtype")))
    inner = [d for d in range(min(len(shape), len(stride))) if stride[d] == 1 and shape[d] > 1]
    if itemsize is None or not inner:
        return None
    dim = inner[-1]
    extent = int(shape[dim])
    outer = {int(shape[d]) for d in range(len(shape)) if d != dim}
    # Blocks of that length, a block the memory ops flag stride-1 first.
    blocks = sorted((j for j, b in enumerate(facts.blocks) if b.size_hint == extent),
                    key=lambda j: not facts.blocks[j].contiguous)
    if reduction_extent(facts) == extent:
        # A grid block as long as an outer dimension means the grid walks the rows and the
        # reduction the stride-1 axis (row sum); otherwise a same-length block is the better match.
        grid_on_outer = any(b.role == "grid" and b.size_hint in outer for b in facts.blocks)
        if grid_on_outer or not blocks:
            tiled = [j for j in blocks if facts.blocks[j].role == "reduction"]
            return ContiguousAxis(tiled[0] if tiled else None, extent, itemsize)
    if blocks:
        return ContiguousAxis(blocks[0], extent, itemsize)
    return None
