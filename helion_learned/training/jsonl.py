"""JSON-lines records of our sidecar files (facts, origins, failures, control), gzip or plain."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def iter_jsonl(path: Path, *, strict: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of every JSON object in ``path`` (``.gz``: gzip), blank lines
    skipped.

    ``strict``: a line that is not a JSON object raises ``ValueError`` naming ``file:line``
    (training reads logs a user hands it: a bad line must be found and fixed). Not strict: such
    lines are skipped and an unreadable file yields nothing (the collector's resume reads files
    that a killed writer may have left with a torn last line; that workload is simply redone).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    if strict:
                        raise ValueError(f"{path}:{lineno}: not JSON ({e})") from e
                    continue
                if isinstance(rec, dict):
                    yield lineno, rec
                elif strict:
                    raise ValueError(f"{path}:{lineno}: expected a JSON object")
    except (OSError, EOFError):
        if strict:
            raise
