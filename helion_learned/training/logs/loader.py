"""The loader behind :func:`.logs.load_logs`: reads CSV / meta / facts files, joins them on Helion's
run_id, and reports problems with file and line (or skips and counts them with ``skip_bad``)."""

from __future__ import annotations

import collections
import statistics
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...features.facts import FACTS_SCHEMA_VERSION
from ...features.facts import KernelFacts
from ...features.hardware import HardwareFacts
from ...features.sidecar import SIDECAR_SCHEMA
from . import errors
from . import parsing as lp
from .errors import LogFormatError
from .parsing import parse_config_repr
from .records import Measurement
from .records import Workload

_IDENTITY_KEYS = ("kernel_name", "input_shapes", "dtypes", "hardware")


class Loader:
    def __init__(self, skip_bad: bool) -> None:
        self.skip_bad = skip_bad
        self.skipped: collections.Counter[str] = collections.Counter()
        self.meta: dict[str, dict[str, Any]] = {}  # run_id -> merged meta record
        self.facts: dict[str, dict[str, Any]] = {}  # run_id -> first parsed facts record
        self.rows: dict[str, dict[str, _Acc]] = {}  # run_id -> config_id -> accumulator
        self.row_origin: dict[str, tuple[Path, int]] = {}  # run_id -> first CSV row
        self.row_sources: dict[str, set[str]] = collections.defaultdict(set)
        self._parsed: dict[str, dict[str, Any] | LogFormatError] = {}

    def bad(self, error: LogFormatError) -> None:
        if not self.skip_bad:
            raise error
        self.skipped[error.code] += 1

    # -- jsonl --
    def read_jsonl(self, path: Path, kind: str) -> None:
        line = 0
        try:
            with lp.open_text(path) as stream:
                for item in lp.iter_jsonl(path, stream):
                    if isinstance(item, LogFormatError):
                        line = item.line or line
                        self.bad(item)
                        continue
                    line, record = item
                    try:
                        if kind == "meta":
                            self._add_meta(path, line, record)
                        else:
                            self._add_facts(path, line, record)
                    except LogFormatError as error:
                        self.bad(error)
        except lp.STREAM_ERRORS as exc:
            self.bad(errors.stream_error(path, line + 1, exc))

    def _add_meta(self, path: Path, line: int, record: dict[str, Any]) -> None:
        if "schema" in record:
            raise errors.facts_in_meta(path, line, record["schema"])
        _require(path, line, record, ("run_id", *_IDENTITY_KEYS), "meta")
        configs = record.get("configs") or {}
        settings = record.get("settings")
        if not isinstance(configs, dict) or not isinstance(settings, (dict, type(None))):
            raise errors.bad_record(path, line, "meta", "`configs`/`settings` are not objects")
        for config_id, config in configs.items():  # check all before using any of it
            if not isinstance(config, dict):
                raise errors.bad_record(path, line, "meta", f"config {config_id} is not an object")
        run_id = record["run_id"]
        entry = self.meta.get(run_id)
        if entry is None:  # the same run_id seen again (a re-run) only adds configs
            entry = {k: record[k] for k in _IDENTITY_KEYS}
            entry.update(settings=settings, configs={}, path=path, line=line, sources=set())
            self.meta[run_id] = entry
        entry["sources"].add(str(path))
        for config_id, config in configs.items():
            entry["configs"].setdefault(config_id, config)

    def _add_facts(self, path: Path, line: int, record: dict[str, Any]) -> None:
        if record.get("schema") != SIDECAR_SCHEMA:
            raise errors.facts_schema(path, line, record.get("schema"), SIDECAR_SCHEMA)
        _require(path, line, record, ("run_id", *_IDENTITY_KEYS), "facts")
        if not isinstance(record.get("facts"), dict):
            raise errors.bad_record(path, line, "facts", "`facts` is missing or not an object")
        try:
            facts = KernelFacts.from_dict(record["facts"])
        except ValueError as exc:
            version = record["facts"].get("schema_version") != FACTS_SCHEMA_VERSION
            raise errors.facts_rejected(path, line, exc, version) from None
        except (TypeError, KeyError, AttributeError, OverflowError) as exc:
            what = f"`facts` does not parse ({exc!r})"
            raise errors.bad_record(path, line, "facts", what) from None
        hw = record.get("hardware_facts")
        try:
            hardware_facts = HardwareFacts.from_dict(hw) if hw is not None else None
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError) as exc:
            what = f"`hardware_facts` does not parse ({exc!r})"
            raise errors.bad_record(path, line, "facts", what) from None
        if record["run_id"] not in self.facts:  # identical re-binds write duplicates; first wins
            entry = {k: record[k] for k in _IDENTITY_KEYS}
            entry.update(facts=facts, hardware_facts=hardware_facts, path=path, line=line)
            self.facts[record["run_id"]] = entry

    # -- csv --
    def read_csv(self, path: Path) -> None:
        line = 0
        try:
            with lp.open_text(path, newline="") as stream:
                records = lp.iter_csv_records(path, stream)
                header_seen = False
                for item in records:
                    if isinstance(item, LogFormatError):
                        self.bad(item)
                        continue
                    line = item.line
                    if not item.fields:
                        continue  # a blank line
                    if not header_seen:
                        if tuple(item.fields) != lp.CSV_FIELDS:
                            self.bad(errors.bad_header(path, item.line, item.fields))
                            return  # skip_bad: without a header no row can be trusted
                        header_seen = True
                        continue
                    if item.fields[0] == "run_id":
                        if tuple(item.fields) != lp.CSV_FIELDS:
                            self.bad(errors.mixed_header(path, line, item.fields))
                            self._skip_foreign(records)
                        continue  # our header repeated (files concatenated): harmless
                    try:
                        self._add_row(path, item)
                    except LogFormatError as error:
                        self.bad(error)
        except lp.STREAM_ERRORS as exc:
            self.bad(errors.stream_error(path, line + 1, exc))

    def _skip_foreign(self, records: Iterator[lp.CsvRecord | LogFormatError]) -> None:
        """After a foreign header (skip_bad): skip its rows until Helion's header comes again."""
        for rest in records:
            if isinstance(rest, lp.CsvRecord):
                if tuple(rest.fields) == lp.CSV_FIELDS:
                    return
                if not rest.fields:
                    continue  # a blank line is not a row
            self.skipped["mixed_schema"] += 1

    def _add_row(self, path: Path, rec: lp.CsvRecord) -> None:
        fields, line = rec.fields, rec.line
        if rec.truncated:
            raise errors.truncated_line(path, line)
        if len(fields) != len(lp.CSV_FIELDS):
            raise errors.wrong_columns(path, line, len(fields))
        col = lp.CSV_COLUMNS
        run_id, config_id, status = (
            fields[col[k]].strip() for k in ("run_id", "config_id", "status")
        )
        if not run_id:
            raise errors.missing_run_id(path, line)
        if not config_id or not status.replace("_", "").isalpha():
            raise errors.bad_row(path, line, config_id, status)
        if status == lp.STARTED_STATUS:
            self._row_seen(path, line, run_id)
            return
        perf = None
        if status == lp.OK_STATUS:
            try:
                perf = lp.parse_perf_ms(fields[col["perf_ms"]])
            except ValueError as exc:
                raise errors.bad_perf(path, line, str(exc)) from None
        acc = self.rows.get(run_id, {}).get(config_id)
        if acc is None:
            config = self._config(path, line, run_id, config_id, fields[col["config"]])
            acc = _Acc(config, f"{path}:{line}")
        # Only a row that passed every check leaves a trace: a skipped row is a deleted row.
        self._row_seen(path, line, run_id)
        self.rows[run_id].setdefault(config_id, acc)
        acc.n += 1
        acc.statuses[status] += 1
        if perf is not None:
            acc.perfs.append(perf)

    def _row_seen(self, path: Path, line: int, run_id: str) -> None:
        self.row_sources[run_id].add(str(path))
        self.row_origin.setdefault(run_id, (path, line))
        self.rows.setdefault(run_id, {})

    def _config(
        self, path: Path, line: int, run_id: str, config_id: str, text: str
    ) -> dict[str, Any]:
        meta = self.meta.get(run_id)
        if meta is not None and config_id in meta["configs"]:
            return meta["configs"][config_id]  # exact JSON config: no repr parsing needed
        parsed = self._parsed.get(text)
        if parsed is None:
            try:
                parsed = parse_config_repr(text)
            except ValueError as exc:
                parsed = errors.bad_config(path, line, str(exc))
            self._parsed[text] = parsed
        if isinstance(parsed, LogFormatError):
            raise parsed.at(path, line)
        known = lp.helion_config_keys()
        if meta is not None:
            known = known.union(*(c.keys() for c in meta["configs"].values()))
        unknown = sorted(set(parsed) - known)
        if unknown:
            raise errors.unknown_config_key(path, line, unknown)
        return parsed

    # -- assembly --
    def workloads(self, require_facts: bool) -> list[Workload]:
        for run_id, meta in sorted(self.meta.items()):
            if run_id not in self.row_origin:
                csv_name = f"{_base_of(meta['path'])}{lp.CSV_SUFFIX}"
                self.bad(errors.meta_without_csv(meta["path"], meta["line"], run_id, csv_name))
        result = []
        for run_id in sorted(self.rows):
            try:
                result.append(self._workload(run_id, require_facts))
            except LogFormatError as error:
                self.bad(error)
        return result

    def _workload(self, run_id: str, require_facts: bool) -> Workload:
        meta, facts = self.meta.get(run_id), self.facts.get(run_id)
        path, line = self.row_origin[run_id]
        sidecar = f"{_base_of(path)}{lp.FACTS_SUFFIX}"
        identity = meta or facts
        if identity is None:
            raise errors.no_metadata(path, line, run_id, sidecar)
        if facts is None and require_facts:
            kernel = identity["kernel_name"]
            raise errors.missing_facts(path, line, run_id, kernel, sidecar)
        if meta is not None and facts is not None:
            for key in _IDENTITY_KEYS[1:]:
                if meta[key] != facts[key]:
                    where = f"{meta['path'].name}:{meta['line']}"
                    raise errors.identity_mismatch(
                        facts["path"], facts["line"], run_id, key, facts[key], meta[key], where
                    )
        measurements = [acc.measurement(cid) for cid, acc in sorted(self.rows[run_id].items())]
        sources = set(self.row_sources[run_id])
        sources.update(meta["sources"] if meta is not None else ())
        sources.update([str(facts["path"])] if facts is not None else ())
        kernel_name = identity["kernel_name"] or (facts["kernel_name"] if facts else "")
        if not kernel_name and facts is not None:
            kernel_name = facts["facts"].kernel_name
        return Workload(
            run_id=run_id,
            kernel_name=kernel_name,
            input_shapes=identity["input_shapes"],
            dtypes=identity["dtypes"],
            hardware=identity["hardware"],
            settings=meta["settings"] if meta is not None else None,
            facts=facts["facts"] if facts is not None else None,
            hardware_facts=facts["hardware_facts"] if facts is not None else None,
            measurements=measurements,
            sources=sorted(sources),
        )


class _Acc:
    __slots__ = ("config", "first_seen", "n", "perfs", "statuses")

    def __init__(self, config: dict[str, Any], first_seen: str) -> None:
        self.config, self.first_seen = config, first_seen
        self.n = 0
        self.perfs: list[float] = []
        self.statuses: collections.Counter[str] = collections.Counter()

    def measurement(self, config_id: str) -> Measurement:
        if self.perfs:
            status, perf = lp.OK_STATUS, float(statistics.median(self.perfs))
        else:  # most common failure; ties go to the one seen first (Counter keeps order)
            status, perf = self.statuses.most_common(1)[0][0], None
        return Measurement(config_id, self.config, status, perf, self.n, self.first_seen)


def _require(path: Path, line: int, record: dict[str, Any], keys: Sequence[str], kind: str) -> None:
    missing = [k for k in keys if not isinstance(record.get(k), str)]
    if missing or not record["run_id"]:
        what = f"missing or non-string key(s) {missing or ['run_id']}"
        raise errors.bad_record(path, line, kind, what)


def _base_of(path: Path) -> Path:
    split = lp.split_log_path(path)
    return split[0] if split is not None else path
