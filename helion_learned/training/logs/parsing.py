"""Low-level reading of Helion's autotune logs: discovery, opening (``.gz`` too), CSV records
with their 1-based line numbers, JSONL records, and the safe ``Config(...)`` repr parser.

:mod:`helion_learned.training.logs` builds workloads on top of this; the errors it raises live in
:mod:`helion_learned.training.logs.errors`.
"""

from __future__ import annotations

import ast
import csv
import functools
import gzip
import inspect
import json
import math
import os
import re
import zlib
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import errors
from .errors import LogFormatError

# The header Helion writes (`helion.autotuner.logger._AUTOTUNE_CSV_FIELDS`, same in 1.4 and 1.5).
CSV_FIELDS = errors.CSV_FIELDS
CSV_COLUMNS = {name: i for i, name in enumerate(CSV_FIELDS)}

# Statuses Helion writes. `started` precedes every trial and is dropped. `filtered` and
# `deduplicated` mean "not measured" rather than "bad"; they are kept so the trainer can decide.
OK_STATUS = "ok"
STARTED_STATUS = "started"
FAILURE_STATUSES = frozenset(
    {"error", "timeout", "peer_compilation_fail", "accuracy_error", "source_rejected"}
)
NOT_MEASURED_STATUSES = frozenset({"filtered", "deduplicated"})

CSV_SUFFIX = ".csv"
META_SUFFIX = ".meta.jsonl"
FACTS_SUFFIX = ".facts.jsonl"
GZ = ".gz"
KIND_SUFFIXES = {"csv": CSV_SUFFIX, "meta": META_SUFFIX, "facts": FACTS_SUFFIX}
# Helion's other outputs next to the logs; never read as a log even though one ends in .csv.
IGNORED_SUFFIXES = (".sources.csv", ".sources.csv.gz")

# -- files ---------------------------------------------------------------------------------------


def split_log_path(path: Path) -> tuple[Path, str, bool] | None:
    """``run.meta.jsonl.gz`` -> (``run``, "meta", True). None for a file that is not a log."""
    name = path.name
    if name.endswith(IGNORED_SUFFIXES):
        return None
    gz = name.endswith(GZ)
    stem = name[: -len(GZ)] if gz else name
    # Longest suffixes first: ".meta.jsonl" must not be read as a base ending in ".meta".
    for kind in ("meta", "facts", "csv"):
        suffix = KIND_SUFFIXES[kind]
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return path.with_name(stem[: -len(suffix)]), kind, gz
    return None


def open_text(path: Path, *, newline: str | None = None) -> Any:
    """Open a log read-only as UTF-8 text (a BOM is ignored); ``.gz`` is decompressed on the fly.

    Bytes that are not UTF-8 decode to lone surrogates (``surrogateescape``) instead of failing
    the whole file: :class:`_LineTracker` reports the lines holding them, so one damaged row is
    one bad row (with its own line number), not the end of the file.
    """
    if path.name.endswith(GZ):
        return gzip.open(
            path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline=newline
        )
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline=newline)


# Exceptions a damaged file raises while being read (not per line). Other OSErrors (permissions,
# a vanished file) are not format problems and propagate unchanged.
STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError)


# What ``surrogateescape`` turns undecodable bytes into; valid UTF-8 never decodes to these.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
BOM = "\ufeff"


class _LineTracker:
    """Iterates the lines of a text file, remembering whether the last one ended in a newline
    and which lines held bytes that are not UTF-8 (``bad_lines``, 1-based, in order).

    A BOM at the start of a later line (files concatenated with ``cat``) is dropped like the
    first one.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.complete = True
        self.lines_read = 0
        self.bad_lines: list[int] = []
        self.recent: list[str] = []  # lines since the last take(): the current CSV record

    def __iter__(self) -> Iterator[str]:
        for line in self._stream:
            self.lines_read += 1
            if line.startswith(BOM) and len(line) > 1:
                line = line[1:]
            if not line.isascii() and _UNDECODABLE.search(line):
                self.bad_lines.append(self.lines_read)
            self.complete = line.endswith(("\n", "\r"))
            self.recent.append(line)
            yield line

    def take(self) -> list[str]:
        recent, self.recent = self.recent, []
        return recent


def _ends_in_open_quote(lines: list[str]) -> bool:
    """Whether a CSV record's text ends inside a quoted field (the file was cut off there)."""
    try:
        for _ in csv.reader(lines, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


# -- discovery -----------------------------------------------------------------------------------


def discover_log_bases(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Log bases under ``paths``: log files (any kind, ``.gz`` or not), bare bases, directories
    (searched recursively). Returns sorted unique bases."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    bases: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in path.rglob("*"):
                split = split_log_path(child)
                if split is not None and child.is_file():
                    bases.add(split[0])
        elif path.is_file():
            split = split_log_path(path)
            if split is None:
                raise errors.not_a_log(path)
            bases.add(split[0])
        elif base_files(path):
            bases.add(path)  # the bare base, as given to HELION_AUTOTUNE_LOG
        else:
            raise FileNotFoundError(f"{path}: no such file, directory or log base")
    return sorted(bases)


def base_files(base: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for kind, suffix in KIND_SUFFIXES.items():
        for name in (f"{base.name}{suffix}", f"{base.name}{suffix}{GZ}"):
            candidate = base.with_name(name)
            if candidate.is_file():
                found.setdefault(kind, []).append(candidate)
    return found


# -- CSV -----------------------------------------------------------------------------------------


class CsvRecord:
    """One record of an autotune CSV: its fields plus where it is and whether it looks cut off."""

    __slots__ = ("fields", "line", "truncated")

    def __init__(self, fields: list[str], line: int, truncated: bool) -> None:
        self.fields = fields
        self.line = line
        self.truncated = truncated


def iter_csv_records(path: Path, stream: Any) -> Iterator[CsvRecord | LogFormatError]:
    """Yield each record (header included) with its 1-based start line.

    A record is flagged ``truncated`` when it is the last one in the file and it either lacks a
    line terminator, has an unterminated quoted field (the csv module then returns a field holding
    the newline; a closed quoted field may hold newlines too), or has fewer columns than the
    header. Errors that the csv module raises are yielded as :class:`LogFormatError` so the
    caller can skip them; so is a record holding bytes that are not UTF-8.
    """
    tracker = _LineTracker(stream)
    reader = csv.reader(tracker)
    pending: tuple[list[str], int, bool] | None = None
    start = 1
    checked = 0  # tracker.bad_lines already attributed to a record
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield errors.bad_csv(path, start, exc)
            start, checked = tracker.lines_read + 1, len(tracker.bad_lines)
            tracker.take()
            continue
        except STREAM_ERRORS:  # the file is damaged after this point: keep the row before it
            if pending is not None:
                yield CsvRecord(pending[0], pending[1], truncated=False)
            raise
        raw = tracker.take()
        if len(tracker.bad_lines) > checked:  # this record holds bytes that are not UTF-8
            if pending is not None:
                yield CsvRecord(pending[0], pending[1], truncated=False)
                pending = None
            yield errors.bad_encoding(path, tracker.bad_lines[checked])
            start, checked = tracker.lines_read + 1, len(tracker.bad_lines)
            continue
        open_quote = any("\n" in f or "\r" in f for f in fields) and _ends_in_open_quote(raw)
        if pending is not None:
            yield CsvRecord(pending[0], pending[1], truncated=False)
        pending = (fields, start, (not tracker.complete) or open_quote)
        start = tracker.lines_read + 1
    if pending is not None:
        fields, line, suspicious = pending
        yield CsvRecord(fields, line, truncated=suspicious or len(fields) < len(CSV_FIELDS))


def parse_perf_ms(text: str) -> float:
    """A measured time: a positive finite float. Raises ValueError with a short explanation."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"perf_ms {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"perf_ms {text!r} is not finite")
    if value <= 0:
        raise ValueError(f"perf_ms {text!r} is not positive")
    return value


# -- config repr ---------------------------------------------------------------------------------

_CONFIG_CALLEES = ("Config", "helion.Config")


def _callee_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def parse_config_repr(text: str) -> dict[str, Any]:
    """Parse Helion's ``Config(k=v, ...)`` repr into a plain dict, without evaluating code.

    Only ``Config(...)`` or ``helion.Config(...)`` with keyword arguments whose values are Python
    literals is accepted (``ast.literal_eval`` per value). Anything else raises ValueError.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"config {_short(text)} is not valid Python syntax ({exc.msg})") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise ValueError(f"config {_short(text)} cannot be parsed ({exc!r})") from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise ValueError(f"config {_short(text)} is not a Config(...) call")
    callee = _callee_name(call.func)
    if callee not in _CONFIG_CALLEES:
        raise ValueError(
            f"config {_short(text)} calls {callee or 'an expression'!s}, expected Config(...)"
        )
    if call.args:
        raise ValueError(f"config {_short(text)} has positional arguments")
    result: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ValueError(f"config {_short(text)} uses **kwargs")
        try:
            result[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(
                f"config {_short(text)}: value of {kw.arg!r} is not a Python literal"
            ) from None
    return result


def _short_exc(exc: BaseException, limit: int = 80) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(text: str, limit: int = 80) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@functools.cache
def helion_config_keys() -> frozenset[str]:
    """Keyword names ``helion.Config`` accepts (user tunables come on top, from meta.jsonl)."""
    from helion.runtime.config import Config

    params = inspect.signature(Config.__init__).parameters.values()
    return frozenset(
        p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "self"
    )


# -- JSONL ---------------------------------------------------------------------------------------


def iter_jsonl(path: Path, stream: Any) -> Iterator[tuple[int, dict[str, Any]] | LogFormatError]:
    """Yield ``(line, object)`` per non-blank line, or a LogFormatError for a bad line."""
    tracker = _LineTracker(stream)
    for lineno, text in enumerate(tracker, start=1):
        if tracker.bad_lines and tracker.bad_lines[-1] == lineno:
            yield errors.bad_encoding(path, lineno)
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if not tracker.complete:
                yield errors.truncated_line(path, lineno)
            else:
                yield errors.bad_json(
                    path, lineno, f"invalid JSON ({exc.msg} at column {exc.colno})"
                )
            continue
        except (ValueError, RecursionError, MemoryError) as exc:
            # json's own limits: integers over sys.get_int_max_str_digits(), absurd nesting.
            yield errors.bad_json(path, lineno, f"JSON cannot be read ({_short_exc(exc)})")
            continue
        if not isinstance(obj, dict):
            yield errors.bad_json(path, lineno, f"line is JSON {type(obj).__name__}, not an object")
            continue
        yield lineno, obj
