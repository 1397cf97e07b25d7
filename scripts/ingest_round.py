"""Add one collector round brought back from the GPU machine to a dataset folder.

    python scripts/ingest_round.py /work/.device/N/collect.tgz data/h100 --round 7 \\
        [--tag r7] [--log /work/.device/N/stdout.txt] [--log /work/.device/N/stderr_tail.txt]

What it does, in order, and nothing else (the dataset's files are only appended to):
1. unpacks the archive (``tar czf collect.tgz -C OUT_DIR .`` of a collector ``--out`` folder)
   into a temporary folder;
2. removes rows of workloads that never committed (no facts record: a collector killed
   mid-workload), like the collector's own resume does;
3. refuses to go on if a shard file of the round already exists in the dataset (a shard base
   ``shard<i>_<host>_<pid>`` can repeat across machines): nothing is written then;
4. gzips every ``shard*.csv`` / ``shard*.jsonl`` into the dataset, appends ``control.jsonl`` and
   ``failures.jsonl`` to the dataset's ``.gz`` copies, copies the given logs to
   ``run_logs/round<N>_<name>``;
5. prints what it added: workloads (facts records), CSV rows, orphan rows removed, failures.
Then run ``python scripts/datasheet_tables.py DATASET`` and update ``data/README.md``.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from helion_learned.training.collect.files import repair_orphans

APPENDED = ("control.jsonl", "failures.jsonl")


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def _tagged(path: Path, tag: str) -> Path:
    """``shard0_vm_540.meta.jsonl`` -> ``shard0_vm_540_TAG.meta.jsonl`` (the base gets the tag:
    every file of one base keeps the same base, so the log reader still joins them)."""
    base, _, rest = path.name.partition(".")
    return path.with_name(f"{base}_{tag}.{rest}")


def ingest(archive: Path, dest: Path, round_no: int, logs: list[Path],
           tag: str | None = None) -> dict[str, int]:
    if not dest.is_dir():
        raise SystemExit(f"{dest}: not a folder. Fix: pass the dataset folder, e.g. data/h100")
    with tempfile.TemporaryDirectory(prefix="ingest_") as tmp:
        src = Path(tmp)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # no absolute paths or links out of the folder
                tar.extractall(src, filter="data")
            else:  # Python < 3.10.12: check the members ourselves
                for m in tar.getmembers():
                    if m.name.startswith(("/", "..")) or ".." in Path(m.name).parts or (
                            m.issym() or m.islnk()):
                        raise SystemExit(f"{archive}: unsafe member {m.name!r}")
                tar.extractall(src)
        removed = repair_orphans(src, check_pid=False)
        shard_files = sorted(p for p in src.iterdir() if p.name.startswith("shard")
                             and p.suffix in (".csv", ".jsonl"))
        if not shard_files:
            raise SystemExit(f"{archive}: no shard*.csv / shard*.jsonl inside. Fix: archive the "
                             f"collector's --out folder (tar czf collect.tgz -C OUT .)")
        if tag:
            if not re.fullmatch(r"[A-Za-z0-9_]+", tag):
                raise SystemExit(f"--tag {tag!r}: letters, digits and _ only")
            shard_files = [p.rename(_tagged(p, tag)) for p in shard_files]
        clashes = [p.name for p in shard_files if (dest / f"{p.name}.gz").exists()]
        if clashes:
            # Fresh GPU machines repeat host names and pids, so shard bases can repeat.
            raise SystemExit(f"{dest}: already has {clashes[:3]}... from an earlier round; "
                             f"nothing written. Fix: pass --tag r{round_no} (appended to each "
                             "shard base of this round)")
        for path in shard_files:
            with open(path, "rb") as f_in, gzip.open(dest / f"{path.name}.gz", "wb", 9) as f_out:
                shutil.copyfileobj(f_in, f_out)
        for name in APPENDED:
            if (src / name).exists():
                with gzip.open(dest / f"{name}.gz", "ab", 9) as f_out:  # gzip members concatenate
                    f_out.write((src / name).read_bytes())
        run_logs = dest / "run_logs"
        run_logs.mkdir(exist_ok=True)
        for log in logs:
            shutil.copyfile(log, run_logs / f"round{round_no}_{log.name}")
        return {
            "workloads": sum(_count_lines(p) for p in shard_files if p.name.endswith(".facts.jsonl")),
            "csv_rows": sum(_count_lines(p) - 1 for p in shard_files if p.suffix == ".csv"),
            "orphan_rows_removed": sum(removed.values()),
            "failures": _count_lines(src / "failures.jsonl") if (src / "failures.jsonl").exists()
            else 0,
            "files": len(shard_files),
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("archive", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--round", dest="round_no", type=int, required=True)
    p.add_argument("--tag", help="appended to this round's shard bases (on a name clash)")
    p.add_argument("--log", action="append", type=Path, default=[],
                   help="a log of the call to keep under run_logs/ (repeatable)")
    args = p.parse_args(argv)
    summary = ingest(args.archive, args.dest, args.round_no, args.log, args.tag)
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
