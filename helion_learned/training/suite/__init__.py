"""The kernel suite and shape lists used to collect benchmark data (training side only).

Kernels live in one module per structure group (pointwise, gated, backward, norms, ...; see
README.md for the groups, counts and how to add a kernel); ``kernels`` re-exports them all and
``registry.SUITE`` lists every family (kernel x dtype) with its shapes.
"""
