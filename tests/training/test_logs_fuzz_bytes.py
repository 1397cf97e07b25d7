"""Fuzzed log ingestion, anything at all: damaged bytes, spliced schemas, broken gzip (SYNTHETIC)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helion_learned.training.logs import LogFormatError
from helion_learned.training.logs import load_logs
from tests.training._fuzz_logs import CHARS
from tests.training._fuzz_logs import EXAMPLES
from tests.training._fuzz_logs import GOOD
from tests.training._fuzz_logs import _report_examples  # noqa: F401  # autouse fixture
from tests.training._fuzz_logs import fuzz
from tests.training._fuzz_logs import load_both
from tests.training._fuzz_logs import workdir
from tests.training._fuzz_logs import write_files

# -- anything at all: damaged bytes, spliced schemas, broken gzip -----------------------------------

SOURCES = {
    "run1.csv": (GOOD / "run1.csv").read_bytes(),
    "run1.meta.jsonl": (GOOD / "run1.meta.jsonl").read_bytes(),
    "run1.facts.jsonl": (GOOD / "run1.facts.jsonl").read_bytes(),
    "sub/run2.csv": (GOOD / "sub" / "run2.csv").read_bytes(),
    "sub/run2.meta.jsonl": (GOOD / "sub" / "run2.meta.jsonl").read_bytes(),
}
SPICE = [
    b"\r",
    b"\n",
    b"\r\n",
    b",",
    b'"',
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xff",
    b"nan",
    b"-1",
    b"1e999",
    b"}",
    b"{",
    b"Config(",
    b")",
    b"__import__('os')",
    b"run_id,",
    b"\x1f\x8b",
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    others = list(SOURCES.values())
    for _ in range(draw(st.integers(0, 4))):
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "insert",
                    "text",
                    "flip",
                    "dup",
                    "splice",
                    "truncate",
                    "spice",
                    "swap_lines",
                    "empty",
                ]
            )
        )
        i = draw(st.integers(0, len(data)))
        j = min(len(data), i + draw(st.integers(0, 40)))
        if op == "delete":
            data = data[:i] + data[j:]
        elif op == "insert":
            data = data[:i] + draw(st.binary(max_size=8)) + data[i:]
        elif op == "text":
            data = data[:i] + draw(st.text(CHARS, max_size=8)).encode() + data[i:]
        elif op == "flip" and i < len(data):
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
        elif op == "dup":
            data = data[:j] + data[i:j] + data[j:]
        elif op == "splice":  # a piece of another log (another schema) pasted in
            src = draw(st.sampled_from(others))
            k = draw(st.integers(0, len(src)))
            data = data[:i] + src[k : k + draw(st.integers(1, 300))] + data[i:]
        elif op == "truncate":
            data = data[:i]
        elif op == "spice":
            data = data[:i] + draw(st.sampled_from(SPICE)) + data[i:]
        elif op == "swap_lines":
            lines = data.splitlines(keepends=True)
            if len(lines) > 1:
                a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                lines[a], lines[b] = lines[b], lines[a]
                data = b"".join(lines)
        elif op == "empty":
            data = b""
    return data


@st.composite
def damaged_gzip(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    gz = gzip.compress(data, compresslevel=draw(st.integers(0, 9)), mtime=0)
    op = draw(
        st.sampled_from(
            [
                "none",
                "truncate",
                "flip",
                "junk",
                "members",
                "zeros",
                "empty",
                "header_only",
                "plain",
            ]
        )
    )
    if op == "truncate":
        return gz[: draw(st.integers(1, len(gz) - 1))], op
    if op == "flip":
        i = draw(st.integers(0, len(gz) - 1))
        return gz[:i] + bytes([gz[i] ^ draw(st.integers(1, 255))]) + gz[i + 1 :], op
    if op == "junk":
        return gz + draw(st.binary(min_size=1, max_size=16)), op
    if op == "members":  # concatenated members are one valid stream
        half = len(data) // 2
        return gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0), op
    if op == "zeros":
        return gz + b"\0" * draw(st.integers(1, 8)), op
    if op == "empty":
        return b"", op
    if op == "header_only":
        return gz[:10], op
    if op == "plain":  # a .gz that is not compressed at all
        return data, op
    return gz, op


@st.composite
def chaos_files(draw: st.DrawFn, gz_only: bool) -> dict[str, bytes]:
    names = draw(st.lists(st.sampled_from(sorted(SOURCES)), min_size=1, max_size=5, unique=True))
    files = {}
    for name in names:
        data = SOURCES[name]
        if draw(st.booleans()):
            data = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + draw(mutated(data))
        if gz_only or draw(st.integers(0, 4)) == 0:
            data, _ = draw(damaged_gzip(data))
            name += ".gz"
        files[name] = data
    if draw(st.integers(0, 9)) == 0:  # both x.csv and x.csv.gz
        name = draw(st.sampled_from(sorted(files)))
        twin = name[:-3] if name.endswith(".gz") else name + ".gz"
        files[twin] = files[name] if twin.endswith(".gz") else gzip.compress(files[name])
    return files


def check_anything(files: dict[str, bytes], as_dir: bool, require_facts: bool) -> Path:
    root = workdir("chaos")
    written = write_files(root, files)
    paths = [root] if as_dir else sorted(written)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in written}
    load_both(paths, written, require_facts=require_facts)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in written} == before
    return root


@fuzz("chaos")
@given(files=chaos_files(gz_only=False), as_dir=st.booleans(), require_facts=st.booleans())
def test_fuzz_anything(files: dict[str, bytes], as_dir: bool, require_facts: bool) -> None:
    """Bytes damaged at random (cut, flipped, spliced from another schema, BOMs, NULs, gzip):
    a LogSet or a LogFormatError at a real place; skip_bad never raises; inputs untouched."""
    EXAMPLES["chaos"] += 1
    check_anything(files, as_dir, require_facts)


@fuzz("gzip")
@given(data=st.data(), as_dir=st.booleans())
def test_fuzz_gzip(data: st.DataObject, as_dir: bool) -> None:
    """Compressed logs cut off, bit-flipped, padded, concatenated, empty or not gzip at all.
    A gzip stream cut off before its end is always reported (``truncated_file``)."""
    name = data.draw(st.sampled_from(sorted(SOURCES)))
    text = SOURCES[name]
    corrupt = data.draw(st.booleans())
    if corrupt:
        text = data.draw(mutated(text))  # gzip of corrupt data
    gz, op = data.draw(damaged_gzip(text))
    EXAMPLES["gzip"] += 1  # after the draws: an input Hypothesis rejects mid-draw is not counted
    files = {n: d for n, d in SOURCES.items() if n != name}  # the good log set, one file gz
    files[f"{name}.gz"] = gz
    root = check_anything(files, as_dir, require_facts=False)
    if op in ("truncate", "header_only") and not corrupt:  # nothing else can fail first
        with pytest.raises(LogFormatError) as info:
            load_logs([root], require_facts=False)
        assert info.value.path == root / f"{name}.gz", str(info.value)
        assert info.value.code == "truncated_file"
