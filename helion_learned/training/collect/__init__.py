"""The GPU collector: benchmark the kernel suite into Helion-native autotune logs.

``python -m helion_learned.training.collect --out DIR ...`` (or ``helion-learned collect -- ...``)
runs it; :mod:`.run` holds the command line and :func:`collect`. The other modules:
:mod:`.options` (options, constants), :mod:`.plan` (workloads, resume, sharding), :mod:`.worker`
(one shard's loop), :mod:`.configs` (the config list), :mod:`.measure` (Helion's searches),
:mod:`.files` (output files, rollback), :mod:`.shards` (``--devices``), :mod:`.gpu_lock` (one
timing at a time per GPU), :mod:`.replay` (replay plans for a second GPU).
"""

from __future__ import annotations

from .run import FAULT_ENV
from .run import Options
from .run import build_parser
from .run import collect
from .run import main
from .run import options_from_args

__all__ = ["FAULT_ENV", "Options", "build_parser", "collect", "main", "options_from_args"]
