"""backfill-facts: logs recorded without helion_learned get their facts by re-binding on CPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helion_learned import cli
from helion_learned.training.logs import LogFormatError
from helion_learned.training.logs import load_logs


def test_backfill_restores_facts_that_join_helion_logs(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    rc = cli.main(["collect", "--out", str(recorded), "--cpu-interpret", "--tiny",
                   "--families", "silu_fp16", "--random", "1", "--grid", "1",
                   "--control-every", "0", "--max-workloads", "1"])
    assert rc == 0
    original = load_logs([recorded]).workloads
    assert len(original) == 1 and original[0].facts is not None
    # The same Helion logs as a user without helion_learned would have them: no facts sidecar.
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in recorded.iterdir():
        if f.name.endswith((".csv", ".meta.jsonl")):
            shutil.copy(f, bare / f.name)
    with pytest.raises(LogFormatError, match="facts"):
        load_logs([bare])
    assert cli.main(["backfill-facts", str(bare), "--kernels",
                     "helion_learned.training.suite.elementwise", "--format", "json"]) == 0
    restored = load_logs([bare]).workloads
    assert [w.run_id for w in restored] == [w.run_id for w in original]
    assert restored[0].facts == original[0].facts
    # Idempotent: a second run finds the facts and writes nothing.
    before = sorted(p.stat().st_size for p in bare.iterdir())
    assert cli.main(["backfill-facts", str(bare), "--kernels",
                     "helion_learned.training.suite.elementwise"]) == 0
    assert sorted(p.stat().st_size for p in bare.iterdir()) == before
