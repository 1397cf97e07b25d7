"""Copy into a dataset folder the workloads another folder holds and it lacks.

    python scripts/copy_missing_workloads.py data/h100_graph_rep data/h100_graph --tag r4new

Why: a collector round resumed from a folder that had not yet been ingested measures again
workloads the round before it already has. Ingest that round whole into a folder of its own (a
replicate folder: one Helion run_id twice in one scored folder would be one group with every
config twice) and copy here only the workloads DEST has no facts record for.

Per source log base it writes ``<base>_<tag>`` files in DEST with those workloads' rows of the
CSV, ``.facts``, ``.meta`` and ``.origins`` logs (all gzipped). Helion's search trace
(``.trace.jsonl``) has its own run ids and is not split: it stays whole in the source folder.
Refuses to overwrite a file that exists. Prints the workloads copied.

``--families`` (globs of suite family names, e.g. ``add_bf16 'matmul_*'``) copies only those
workloads, and ``--exclude-families`` all but those: a collector round run without
``--families`` mixes the original suite (``data/h100``) with the new kernels (``data/h100_new``),
and each goes to its own folder.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import gzip
import json
import sys
from pathlib import Path

from helion_learned.training.logs.parsing import open_text

KINDS = ("facts.jsonl", "meta.jsonl", "origins.jsonl")


def _file(folder: Path, base: str, kind: str) -> Path | None:
    for name in (f"{base}.{kind}.gz", f"{base}.{kind}"):
        if (folder / name).is_file():
            return folder / name
    return None


def run_ids_with_facts(folder: Path) -> set[str]:
    ids: set[str] = set()
    for path in sorted(folder.glob("*.facts.jsonl*")):
        with open_text(path) as f:
            ids.update(json.loads(line)["run_id"] for line in f if line.strip())
    return ids


def _family_filter(families: list[str] | None, exclude: list[str] | None):
    def keep(record: dict) -> bool:
        family = str((record.get("workload") or {}).get("family", ""))
        if families and not any(fnmatch.fnmatchcase(family, g) for g in families):
            return False
        return not (exclude and any(fnmatch.fnmatchcase(family, g) for g in exclude))
    return keep


def copy_missing(src: Path, dest: Path, tag: str, *, families: list[str] | None = None,
                 exclude_families: list[str] | None = None) -> list[tuple[str, str, str]]:
    have = run_ids_with_facts(dest)
    keep = _family_filter(families, exclude_families)
    copied: list[tuple[str, str, str]] = []
    for facts_path in sorted(src.glob("*.facts.jsonl*")):
        base = facts_path.name.split(".", 1)[0]
        with open_text(facts_path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        wanted = {r["run_id"] for r in records if keep(r)} - have
        if not wanted:
            continue
        out_base = f"{base}_{tag}"
        outputs = {kind: dest / f"{out_base}.{kind}.gz" for kind in (*KINDS, "csv")}
        clash = [p for p in outputs.values() if p.exists()]
        if clash:
            raise SystemExit(f"{clash[0]} exists. Fix: pick another --tag")
        for kind in KINDS:
            path = _file(src, base, kind)
            if path is None:
                continue
            with open_text(path) as f, gzip.open(outputs[kind], "wt", encoding="utf-8") as out:
                for line in f:
                    if line.strip() and json.loads(line).get("run_id") in wanted:
                        out.write(line if line.endswith("\n") else line + "\n")
        csv_path = _file(src, base, "csv")
        if csv_path is None:
            raise SystemExit(f"{src}/{base}: no CSV log. Fix: ingest the whole round first")
        with open_text(csv_path, newline="") as f, gzip.open(outputs["csv"], "wt", encoding="utf-8",
                                              newline="") as out:
            reader = csv.reader(f)
            writer = csv.writer(out)
            writer.writerow(next(reader))
            for row in reader:
                if row and row[0] in wanted:
                    writer.writerow(row)
        copied += [(r["run_id"], r.get("kernel_name", "?"), str(r.get("input_shapes")))
                   for r in records if r["run_id"] in wanted]
    return copied


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", type=Path, help="folder with the round ingested whole")
    p.add_argument("dest", type=Path, help="dataset folder that lacks some of its workloads")
    p.add_argument("--tag", required=True, help="suffix of the new log bases, e.g. r4new")
    p.add_argument("--families", nargs="+", help="copy only these families (globs)")
    p.add_argument("--exclude-families", nargs="+", help="copy all but these families (globs)")
    ns = p.parse_args(argv)
    for folder in (ns.src, ns.dest):
        if not folder.is_dir():
            raise SystemExit(f"{folder}: not a folder. Fix: pass a dataset folder")
    copied = copy_missing(ns.src, ns.dest, ns.tag, families=ns.families,
                          exclude_families=ns.exclude_families)
    for run_id, kernel, shapes in copied:
        print(f"copied {kernel} {shapes} ({run_id[:16]})")
    print(f"{len(copied)} workload(s) copied into {ns.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
