"""Render an evaluation dict (see ``evaluation.py``) to JSON, Markdown, self-contained HTML + PNGs.

``write_report(result, out_dir)`` writes ``evaluation.json`` (full dict, strict JSON: NaN/inf ->
null), ``summary.json`` (small, stable keys for CI gates), ``report.md``, ``report.html`` and the
figures. Every file is written atomically (temp file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .gate_text import held_out_gate_text
from .gate_text import unseen_gate_text
from .gate_text import vs_default_text
from .tables import BASELINES
from .tables import DASH
from .tables import Block
from .tables import Image
from .tables import Section
from .tables import Table
from .tables import _baselines
from .tables import _experiments
from .tables import _feature_table
from .tables import _headline
from .tables import _ok
from .tables import _per_family
from .tables import _per_runtime
from .tables import _targets
from .tables import _worst
from .tables import lead_sentence
from .tables import pct
from .tables import primary_protocol
from .tables import proto_label

log = logging.getLogger(__name__)

FORMATS = ("json", "md", "html")
NO_NOTE = ("⚠️ Data provenance not stated (no `data_note`): do not treat these numbers as "
           "GPU measurements until you know where the logs came from.")


def jsonable(obj: Any) -> Any:
    """JSON-able copy: NaN/inf -> None, numpy -> Python, tuples/sets -> lists, unknown -> str."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return jsonable(obj.tolist())
    return str(obj)


def _dumps(obj: Any, *, indent: int | None = 1) -> str:
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False) + "\n"


def _delivered(primary: Mapping[str, Any], unseen: Mapping[str, Any] | None) -> dict[str, Any]:
    def held(p: Mapping[str, Any] | None) -> dict[str, Any]:
        return dict(((p or {}).get("threshold") or {}).get("held_out", {}).get("delivered") or {})

    out = held(primary)
    if unseen is not None:
        out["unseen_kernels"] = held(unseen)
    return out


def summary_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """Small machine-readable summary (stable keys; CI gates read it). NaN/inf become None.

    ``threshold`` and ``baselines`` come from leave-shape-out (or, for a held-out bundle
    evaluation without it, from the first protocol, named in ``primary_protocol``).
    A ``max_slowdown`` of None means either nothing fired or a fired pick failed (infinite).
    """
    protos = result.get("protocols") or {}
    primary_name, primary = primary_protocol(result)
    overall = primary.get("overall") or {}

    stability = result.get("seed_stability") or {}

    def learned(p: Mapping[str, Any] | None, keys: Iterable[str],
                name: str) -> dict[str, Any] | None:
        if p is None:
            return None
        s = (p.get("overall") or {}).get("learned") or {}
        out = {k: s.get(k, math.nan) for k in keys}
        bind = (p.get("overall") or {}).get("learned_bind_time_candidates") or {}
        if bind.get("n"):  # the pick among what the adapter ranks at bind time
            out["bind_time_candidates_geomean"] = bind.get("geomean", math.nan)
        if name in stability:  # the same geomean under other XGBoost seeds
            out["geomean_seed_mean"] = stability[name]["mean"]
            out["geomean_seed_sd"] = stability[name]["sd"]
        return out

    thr = primary.get("threshold") or {}
    return jsonable({
        # The headline: kernels the logs never held (leave-family-out), then unseen shapes.
        "headline_protocol": ("leave_family_out" if "leave_family_out" in protos
                              else primary_name),
        "leave_family_out": learned(protos.get("leave_family_out"), ("geomean", "p10"),
                                    "leave_family_out"),
        "leave_shape_out": learned(protos.get("leave_shape_out"),
                                   ("geomean", "p10", "worst", "within_5pct"), "leave_shape_out"),
        "threshold": {**{k: thr.get(k, math.nan)
                         for k in ("value", "precision", "not_slower_share", "coverage",
                                   "max_slowdown")},
                      **{f"held_out_{k}": (thr.get("held_out") or {}).get(k, math.nan)
                         for k in ("precision", "not_slower_share", "coverage",
                                   "max_slowdown")},
                      # What install() gives by default (Helion's default where it abstains).
                      "behind_gate_geomean": (overall.get("learned_behind_gate") or {}).get(
                          "geomean", math.nan),
                      "held_out_behind_gate_geomean": (thr.get("held_out") or {}).get(
                          "behind_gate_geomean", math.nan)},
        # What install()'s defaults deliver with autotuning off, on held-out workloads (the
        # gate's threshold chosen on other held-out workloads): unseen shapes, and unseen kernels.
        "delivered": _delivered(primary, protos.get("leave_family_out")),
        # The pick against Helion's default, workload by workload (install(threshold=0)'s risk).
        "vs_helion_default": dict(primary.get("vs_default") or {}),
        "baselines": {m: {"geomean": (overall.get(m) or {}).get("geomean", math.nan)}
                      for m in BASELINES},
        "train_seconds": result.get("train_seconds"),
        "data_note": result.get("data_note") or "",
        "dataset": dict(result.get("dataset") or {}),
        "primary_protocol": primary_name,
    })


RUNTIME_NOTE = (
    "Label noise differs by kernel time. Measured twice with Helion's default timer (host "
    "launches included: how these logs were collected), the winner of a kernel under ~15 us "
    "often loses 10-40% in the other run, while longer kernels and CUDA-graph timing "
    "(`collect --timing cudagraph`) reproduce; numbers in reports/timing/report.md. The "
    "shortest kernels' scores include that noise: the same picks scored on CUDA-graph timings "
    "of the same configs are in reports/clean_labels/report.md.")


HOW_TO_READ = (
    "Every number is *relative speed*: best-known time ÷ time of the "
    "config a method picks (1.000 = as fast as the best config measured in the autotune log, "
    "0.500 = twice as slow, 0 = the pick failed; failures count as 1000× slower in geomeans). "
    "p10 is the 10th percentile: one workload in ten does this badly or worse. "
    "Leave-shape-out holds out whole workloads (the kernel family was seen in training); "
    "leave-family-out holds out an entire kernel family, which is the harder, more honest test "
    "for new kernels. The confidence threshold decides when the learned pick replaces "
    "autotuning; it is chosen on held-out (out-of-fold) groups so that precision — the fraction "
    "of fired picks within {within} of the best — stays at or above 1 − wrong_budget "
    "({target}); coverage is the fraction of workloads where it fires. "
    f"“{DASH}” means the baseline is absent (e.g. Helion's hand heuristic produced no config "
    "for that workload, or nearest-neighbour is undefined for a held-out family)."
)


def build_document(result: Mapping[str, Any], images: Iterable[str]) -> tuple[str, str,
                                                                               list[Section]]:
    """(title, data note, sections) shared by the Markdown and HTML renderers."""
    protos: Mapping[str, Any] = result.get("protocols") or {}
    images = set(images)
    title = str(result.get("title") or "Helion learned heuristic — evaluation report")
    note = str(result.get("data_note") or NO_NOTE)
    ds = result.get("dataset") or {}
    facts = [f"dataset `{ds.get('fingerprint', '?')}`", f"{ds.get('n_groups', '?')} groups"]
    if "n_rows" in ds:
        facts.append(f"{ds['n_rows']} measured configs")
    if ds.get("families"):
        facts.append(f"families: {', '.join(map(str, ds['families']))}")
    if ds.get("hardware"):
        facts.append(f"hardware: {', '.join(str(h) or '?' for h in ds['hardware'])}")
    if extra := ds.get("training_only"):
        facts.append(f"plus {extra['n_workloads']} training-only workloads on "
                     f"{', '.join(map(str, extra['hardware']))} (`--extra-logs`: never scored; "
                     f"{extra['twins_of_scored']} twins held out with their scored workload)")
    facts.append(f"hit = within {pct(result.get('within'))} of best")
    facts.append(f"wrong budget {pct(result.get('wrong_budget'))}")
    for key, label in (("train_seconds", "train"), ("evaluate_seconds", "evaluation")):
        if _ok(result.get(key)):
            facts.append(f"{label} {float(result[key]):.1f} s")
    headline: list[Block] = ["; ".join(facts) + "."]
    if lead := lead_sentence(protos):
        headline.append(lead)
    headline.append(_headline(protos))
    if stability := result.get("seed_stability"):
        parts = [f"{proto_label(name)} {s['mean']:.3f} ± {s['sd']:.3f} "
                 f"({', '.join(f'{g:.3f}' for g in s['geomeans'])})"
                 for name, s in stability.items()]
        seeds = next(iter(stability.values()))["model_seeds"]
        headline.append(f"Learned geomean under XGBoost seeds {seeds} (same folds; mean ± sd): "
                        + "; ".join(parts) + ". Differences smaller than the sd are noise.")
    ex = result.get("kernel_experts") or {}
    cv = (f" (`--experts auto`: the training cross-validation's leave-shape-out geomean "
          f"{ex['leave_shape_out_geomean_with']:.3f} with them, "
          f"{ex['leave_shape_out_geomean_without']:.3f} without)"
          if _ok(ex.get("leave_shape_out_geomean_with"))
          and _ok(ex.get("leave_shape_out_geomean_without")) else "")
    if ex.get("enabled"):
        headline.append(
            f"Learned = the global cost model, blended ({ex['weight']:g}) with a per-kernel expert "
            "for kernels the training folds hold 2+ workloads of (models/kernel_experts.py)"
            f"{cv}: leave-shape-out uses them; a kernel without its own (leave-family-out: its "
            "kernel is held out) borrows the expert of the training kernel nearest in structure "
            f"(op classes, loop nest, loads and stores; no name, shape or dtype) at "
            f"{ex.get('neighbour_weight', 0):g}.")
    elif ex:
        headline.append(f"Learned = the global cost model alone: no per-kernel experts{cv}.")
    if gate := unseen_gate_text(result.get("unseen_kernel_gate")):
        headline.append(gate)
    if held := held_out_gate_text(primary_protocol(result)):
        headline.append(held)
    sections = [Section("Headline (learned pick on held-out groups)", headline),
                Section("Baselines (geomean / p10 relative speed)",
                        [_baselines(protos), *vs_default_text(protos)])]
    if result.get("targets"):
        sections.append(Section("Targets", [_targets(result["targets"])]))
    primary_name, primary = primary_protocol(result)
    if (fam := _per_family(result)) is not None:
        sections.append(Section(
            f"Per family (geomean relative speed, {proto_label(str(primary_name))})", [fam]))
    if (rt := _per_runtime(result)) is not None:
        sections.append(Section(
            f"By best-config time ({proto_label(str(primary_name))})", [rt, RUNTIME_NOTE]))
    if result.get("experiments"):
        sections.append(Section("Experiments", [_experiments(result["experiments"])]))
    if primary_name is not None:
        sections.append(Section(f"Worst learned picks ({proto_label(primary_name)})",
                                [_worst(primary)]))
    if result.get("feature_importance"):
        sections.append(Section("Top features", [_feature_table(result["feature_importance"])]))
    captions = {"regret_cdf": "CDF of relative speed per method",
                "precision_coverage": "Precision and coverage vs confidence threshold",
                "calibration": "Calibration of the confidence score",
                "per_family": f"Per-family geomean ({proto_label(primary_name or '?')})",
                "feature_importance": "Top-20 feature importance"}
    plots: list[Block] = [Image(k, c) for k, c in captions.items() if k in images]
    if plots:
        sections.append(Section("Plots", plots))
    sections.append(Section("How to read this", [HOW_TO_READ.format(
        within=pct(result.get("within")),
        target=pct(1 - result["wrong_budget"]) if _ok(result.get("wrong_budget")) else DASH)]))
    return title, note, sections


_NUMERIC = re.compile(r"^(–|-?∞.*|[-+]?\d+(\.\d+)?[%×]?)$")


def _numeric(t: Table) -> list[bool]:
    """Right-align a column when every cell is a number (or a dash)."""
    return [i > 0 and all(_NUMERIC.match(r[i]) for r in t.rows if i < len(r))
            for i in range(len(t.headers))]


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: Mapping[str, Any], images: Iterable[str] = ()) -> str:
    title, note, sections = build_document(result, images)
    out = [f"# {title}", "", f"> **Data:** {note}", ""]
    for sec in sections:
        out += [f"## {sec.title}", ""]
        for b in sec.blocks:
            if isinstance(b, Table):
                out.append("| " + " | ".join(map(_md_cell, b.headers)) + " |")
                out.append("|" + "|".join("---:" if r else "---" for r in _numeric(b)) + "|")
                out += ["| " + " | ".join(map(_md_cell, r)) + " |" for r in b.rows]
                if not b.rows:
                    out.append("| " + " | ".join([DASH] * len(b.headers)) + " |")
            elif isinstance(b, Image):
                out.append(f"![{b.caption}]({b.name}.png)")
            else:
                out.append(b)
            out.append("")
    return "\n".join(out)


def _inline(text: str) -> str:
    s = html.escape(text, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", s)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
.note{background:#fff4d6;border-left:5px solid #e0a800;padding:.7em 1em;font-size:1.05em}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #d0d0d0;padding:.3em .6em}td.r{text-align:right}
th{background:#f3f4f6}tr:nth-child(even) td{background:#fafafa}
code{background:#f3f4f6;padding:0 .2em}figure{margin:1em 0}img{max-width:100%}
figcaption{color:#555;font-size:.9em}
"""


def render_html(result: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    title, note, sections = build_document(result, images)
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>",
           f"<p class='note'><strong>Data:</strong> {_inline(note)}</p>"]
    for sec in sections:
        out.append(f"<h2>{html.escape(sec.title)}</h2>")
        for b in sec.blocks:
            if isinstance(b, Table):
                out.append("<table><thead><tr>" + "".join(
                    f"<th>{html.escape(h)}</th>" for h in b.headers) + "</tr></thead><tbody>")
                right = _numeric(b)
                out += ["<tr>" + "".join(f"<td{' class=r' if a else ''}>{html.escape(c)}</td>"
                                         for c, a in zip(r, right, strict=False)) + "</tr>"
                        for r in b.rows]
                out.append("</tbody></table>")
            elif isinstance(b, Image):
                data = base64.b64encode(images[b.name]).decode("ascii")
                out.append(f"<figure><img alt='{html.escape(b.caption)}' "
                           f"src='data:image/png;base64,{data}'>"
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            else:
                out.append(f"<p>{_inline(b)}</p>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _atomic_write(path: Path, data: str | bytes) -> Path:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def make_plots(result: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG bytes per figure stem; empty (with a warning) if matplotlib is not installed."""
    try:
        from .plots import all_plots
    except ImportError as e:  # matplotlib is a `train` extra
        log.warning("matplotlib unavailable (%s); report will have no plots", e)
        return {}
    return all_plots(result)


def write_report(result: dict, out_dir: str | os.PathLike, *,
                 formats: Iterable[str] = FORMATS) -> dict[str, Path]:
    """Write the report files; returns {"json", "summary", "md", "html", <plot stem>: path}."""
    formats = tuple(formats)
    if unknown := set(formats) - set(FORMATS):
        raise ValueError(f"unknown report formats {sorted(unknown)}; expected {FORMATS}")
    # Everything is rendered before anything is written: a failure while rendering leaves an
    # existing report untouched, and each file is then replaced whole (temp file + os.replace).
    files: dict[str, tuple[str, str | bytes]] = {}
    if "json" in formats:
        files["json"] = ("evaluation.json", _dumps(result))
        files["summary"] = ("summary.json", _dumps(summary_json(result), indent=2))
    if "md" in formats or "html" in formats:
        images = make_plots(result)
        for stem, png in images.items():
            files[stem] = (f"{stem}.png", png)
        if "md" in formats:
            files["md"] = ("report.md", render_markdown(result, images))
        if "html" in formats:
            files["html"] = ("report.html", render_html(result, images))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {key: _atomic_write(out / name, data) for key, (name, data) in files.items()}
