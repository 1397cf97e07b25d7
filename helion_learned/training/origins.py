"""Where each measured config came from (``<base>.origins.jsonl``, written by the collector).

One JSON object per line: ``{"run_id", "config_id", "origin"}`` with origin ``default`` (Helion's
fragment defaults), ``heuristic:<name>`` (a seed of Helion's own hand-written heuristics),
``random``, ``grid`` (our structured grid) or ``autotune`` (best of a real Helion autotune run).
Optional: without it the evaluation simply has no Helion-default / Helion-heuristic baselines.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from pathlib import Path

ORIGINS_SUFFIX = ".origins.jsonl"


def origins_path(log_base: str | os.PathLike[str]) -> Path:
    return Path(log_base).with_suffix(ORIGINS_SUFFIX)  # Helion's own derivation, see sidecar.py


def _base_of(path: Path) -> Path:
    name = path.name
    for suffix in (".gz", ".csv", ".meta.jsonl", ".facts.jsonl", ORIGINS_SUFFIX):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return path.with_name(name)


def load_origins(files: Iterable[str | os.PathLike[str]]) -> dict[tuple[str, str], str]:
    """Origins for every log base among ``files``. The first origin recorded for a config wins
    (a config that is both Helion's default and a grid point stays ``default``)."""
    out: dict[tuple[str, str], str] = {}
    bases = sorted({_base_of(Path(f)) for f in files})
    for base in bases:
        for path in (origins_path(base), Path(f"{origins_path(base)}.gz")):
            if not path.is_file():
                continue
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                        key = (str(rec["run_id"]), str(rec["config_id"]))
                        origin = str(rec["origin"])
                    except (json.JSONDecodeError, KeyError, TypeError) as e:
                        raise ValueError(f"{path}:{lineno}: bad origins record ({e}); expected "
                                         '{"run_id", "config_id", "origin"}') from e
                    out.setdefault(key, origin)
    return out
