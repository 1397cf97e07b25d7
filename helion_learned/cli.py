"""``helion-learned`` command line: small command classes, ``main() -> int``."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cli_options import add_backend
from .cli_options import add_extra_logs
from .cli_options import add_format
from .cli_options import add_log_args
from .cli_options import add_model_args
from .cli_options import experts_choice
from .cli_options import load_dataset
from .cli_options import model_params

log = logging.getLogger("helion_learned")


def _emit(rows: list[tuple[str, Any]], fmt: str, *, title: str = "") -> None:
    if fmt == "json":
        print(json.dumps({k: _jsonable(v) for k, v in rows}, indent=2, sort_keys=False))
        return
    if title:
        print(title)
    width = max((len(k) for k, _ in rows), default=0)
    for key, value in rows:
        print(f"  {key:<{width}}  {_fmt(value)}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Command:
    name: str = ""
    help: str = ""

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


class TrainCommand(Command):
    name = "train"
    help = "train a cost-model bundle from Helion autotune logs"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_log_args(p)
        p.add_argument("-o", "--output", required=True, help="bundle directory to write")
        add_backend(p)
        add_model_args(p)
        add_extra_logs(p)
        p.add_argument("--external-memory", metavar="DIR",
                       help="out-of-core: read one log base at a time into feature shards under "
                            "DIR and fit the final model with XGBoost's external memory; "
                            "calibration runs in memory on a sample (--cv-workloads)")
        p.add_argument("--cv-workloads", type=int, default=2000,
                       help="with --external-memory: workloads sampled for CV and calibration")
        add_format(p)

    def run(self, args: argparse.Namespace) -> int:
        from .training.progress import progress_bars
        from .training.train import train_bundle

        params = model_params(args)
        if args.external_memory and args.extra_logs:
            print("error: --extra-logs does not work with --external-memory; pass those logs "
                  "as logs, or train in memory", file=sys.stderr)
            return 2
        with progress_bars(enabled=not args.quiet) as update:
            if args.external_memory:
                from .training.external_memory import train_bundle_external

                result = train_bundle_external(
                    args.logs, args.external_memory, skip_bad=args.skip_bad,
                    cv_workloads=args.cv_workloads, backend=args.backend, within=args.within,
                    wrong_budget=args.wrong_budget, n_jobs=args.jobs, seed=args.seed,
                    progress=update, params=params, experts=experts_choice(args))
                skipped = result.bundle.metadata["external_memory"]["skipped"]
                if skipped:
                    print(f"skipped (--skip-bad): {skipped}", file=sys.stderr)
            else:
                ds = load_dataset(args, update)
                result = train_bundle(
                    ds, backend=args.backend, within=args.within, wrong_budget=args.wrong_budget,
                    n_jobs=args.jobs, seed=args.seed, progress=update, params=params,
                    experts=experts_choice(args))
        path = result.bundle.save(args.output)
        m = result.bundle.metadata["metrics"]
        data = result.bundle.metadata["training_data"]
        _emit([("bundle", str(path)), ("name", result.bundle.name),
               ("workloads", data["n_workloads"]), ("rows", data["n_rows"]),
               ("leave-shape-out geomean", m["leave_shape_out_geomean"]),
               ("leave-shape-out p10", m["leave_shape_out_p10"]),
               *((f"leave-shape-out geomean {k.rsplit('_', 1)[1]} experts", v)
                 for k, v in result.bundle.metadata["kernel_experts"].items()
                 if k.startswith("leave_shape_out_geomean_")),
               ("kernel experts", len(result.bundle.experts.models_)
                if result.bundle.experts else 0),
               ("threshold", result.threshold.threshold),
               ("precision at threshold", m["threshold_precision"]),
               ("coverage at threshold", m["threshold_coverage"]),
               ("max slowdown fired", m["threshold_max_slowdown"]),
               ("train seconds", result.train_seconds)], args.format, title="trained")
        return 0


class EvaluateCommand(Command):
    name = "evaluate"
    help = "offline evaluation report (grouped CV, or a trained bundle on held-out logs)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_log_args(p)
        p.add_argument("-o", "--output", required=True, help="report directory to write")
        add_backend(p)
        p.add_argument("--model", help="bundle to evaluate on these (held-out) logs; "
                                       "without it: grouped cross-validation")
        add_model_args(p)
        add_extra_logs(p)
        p.add_argument("--data-note", default=None,
                       help="sentence printed at the top of the report (e.g. data provenance)")
        p.add_argument("--experiments", type=Path,
                       help="JSON list of {name, change, leave_shape_out_geomean, "
                            "leave_family_out_geomean, notes} to show as the experiments table")
        p.add_argument("--stability-seeds", type=int, default=3,
                       help="also report the learned geomean under this many XGBoost seeds "
                            "(same folds; 1 = off). Default 3")
        add_format(p)

    def run(self, args: argparse.Namespace) -> int:
        import time

        from .models.bundle import ModelBundle
        from .models.ranker import CostModel
        from .training.progress import progress_bars
        from .training.report.evaluation import evaluate_bundle
        from .training.report.evaluation import evaluate_dataset
        from .training.report.evaluation import issue_targets
        from .training.report.render import write_report
        from .training.train import train_bundle

        if args.model and args.extra_logs:
            print("error: --extra-logs trains the cross-validated models; with --model nothing "
                  "is trained. Drop one of them", file=sys.stderr)
            return 2
        with progress_bars(enabled=not args.quiet) as update:
            ds = load_dataset(args, update)
            if args.model:
                bundle = ModelBundle.load(args.model)
                result = {"protocols": {"held_out": evaluate_bundle(ds, bundle)},
                          "within": bundle.within,
                          "wrong_budget": bundle.metadata.get("wrong_budget", 0.05),
                          "params": bundle.model.get_params(), "dataset": {
                              "fingerprint": ds.fingerprint(), "n_groups": len(ds.groups)}}
            else:
                params = {**CostModel().get_params(), **model_params(args),
                          "random_state": args.seed}
                # The bundle `train` would write: its wall time is the retraining cost, and its
                # experts decision (auto: decided in its cross-validation) is what is evaluated.
                trained = train_bundle(ds, params=params, within=args.within,
                                       wrong_budget=args.wrong_budget, n_jobs=args.jobs,
                                       seed=args.seed, experts=experts_choice(args), progress=update)
                start = time.perf_counter()
                result = evaluate_dataset(
                    ds, params=params, within=args.within, wrong_budget=args.wrong_budget,
                    n_jobs=args.jobs, seed=args.seed, stability_seeds=args.stability_seeds,
                    experts=trained.bundle.metadata["kernel_experts"]["used"], progress=update)
                result["evaluate_seconds"] = time.perf_counter() - start
                result["kernel_experts"] = {**result["kernel_experts"],
                                            **trained.bundle.metadata["kernel_experts"]}
                result["train_seconds"] = trained.train_seconds
                result["unseen_kernel_gate"] = unseen_gate_summary(trained.bundle)
                result["feature_importance"] = dict(
                    list(trained.bundle.model.feature_importance().items())[:25])
                result["targets"] = issue_targets(result)
            if args.experiments:
                result["experiments"] = json.loads(args.experiments.read_text())
        result["data_note"] = args.data_note or _data_note(ds)
        paths = write_report(result, args.output)
        rows: list[tuple[str, Any]] = [("report", str(paths.get("md", args.output)))]
        for proto, res in result["protocols"].items():
            rows.append((f"{proto} learned geomean", res["overall"]["learned"]["geomean"]))
            rows.append((f"{proto} learned p10", res["overall"]["learned"]["p10"]))
            rows.append((f"{proto} coverage", res["threshold"]["coverage"]))
            rows.append((f"{proto} precision", res["threshold"]["precision"]))
        _emit(rows, args.format, title="evaluated")
        return 0


def _data_note(ds: Any) -> str:
    scored = [ds.groups[i] for i in ds.scored_groups]
    hardware = sorted({g.hardware or "CPU (interpreter)" for g in scored})
    note = f"{len(scored)} workloads measured on: {', '.join(hardware)}"
    if extra := ds.training_only_summary():
        note += (f"; {extra['n_workloads']} more, on {', '.join(extra['hardware'])}, "
                 "only train (--extra-logs)")
    return note


class InspectCommand(Command):
    name = "inspect"
    help = "show what a model bundle is, what it was trained on and how well it did"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("model", help="bundle directory")
        add_format(p)

    def run(self, args: argparse.Namespace) -> int:
        from .models.bundle import ModelBundle
        from .models.predict import offers_split_k_ranges
        from .models.predict import split_k_range_workloads

        bundle = ModelBundle.load(args.model)
        meta = bundle.metadata
        data = meta.get("training_data", {})
        rows: list[tuple[str, Any]] = [
            ("name", bundle.name), ("backend", bundle.backend),
            ("targets", [f"{t['device_kind']} sm{t['compute_capability'][0]}"
                         f"{t['compute_capability'][1]}"
                         + (f" ({', '.join(t['devices'])} only)" if t.get("devices") else "")
                         for t in bundle.targets]),
            ("promotion threshold", bundle.threshold), ("within", bundle.within),
            ("gate", _gate_text(meta.get("gate"), bundle.within)),
            ("threshold, kernels not in the logs", "same" if bundle.unseen_threshold is None
             else bundle.unseen_threshold),
            ("known kernels", len(bundle.known_kernels) if bundle.known_kernels else None),
            ("schema", meta.get("schema_version")),
            ("feature schema", meta.get("feature_schema_version")),
            ("features", len(meta.get("feature_names", []))),
            ("objective", meta.get("model_params", {}).get("objective")),
            ("kernel experts", sorted(bundle.experts.models_) if bundle.experts else []),
            ("kernels without an expert", "borrow the nearest-structure kernel's at "
             f"{bundle.experts.neighbour_weight:g}" if bundle.experts and bundle.experts.borrows
             else "the global model alone"),
            ("training fingerprint", data.get("fingerprint")),
            ("training workloads", data.get("n_workloads")),
            ("training families", data.get("families")),
            ("training hardware", data.get("hardware")),
            *((("training-only workloads", f"{extra['n_workloads']} on "
                f"{', '.join(extra['hardware'])} ({extra['twins_of_scored']} twins)"),)
              if (extra := data.get("training_only")) else ()),
            ("split-K K ranges at bind time",
             f"{'offered' if offers_split_k_ranges(bundle) else 'not offered'} "
             f"({split_k_range_workloads(bundle)} training workloads measured them)"),
            *((f"metric {k}", v) for k, v in meta.get("metrics", {}).items()),
            ("created", meta.get("created")),
            *((f"version {k}", v) for k, v in meta.get("versions", {}).items()),
        ]
        _emit(rows, args.format, title=str(bundle.path))
        return 0


def _gate_text(gate: dict[str, Any] | None, within: float) -> str:
    """What the bundle's confidence predicts (bundles before the fallback gate: within X%)."""
    if not gate:
        return f"P(pick within {within:.0%} of the best known)"
    return (f"P(pick not slower than Helion's default by > {gate['margin']:.0%}); fired picks "
            f"> {gate['slowdown_limit']:.0%} slower at most the wrong-pick budget")


class ExecCommand(Command):
    name = "exec"
    help = "run a Python script with learned seeding installed (whole-program switch)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--target", help="GPU to predict for (sm90, h100, ...); default: live device")
        p.add_argument("--model", action="append", help="bundle dir (repeatable); default: shipped")
        from .adapter import DEFAULT_TOP_K

        p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K,
                       help=f"learned seeds handed to the autotuner (default {DEFAULT_TOP_K})")
        p.add_argument("--no-promote", dest="promote", action="store_false",
                       help="never make a confident pick Helion's default config (autotune "
                            "off then runs Helion's own default)")
        p.add_argument("--threshold", type=float,
                       help="override the bundle's calibrated promotion threshold")
        p.add_argument("script")
        p.add_argument("script_args", nargs=argparse.REMAINDER)

    def run(self, args: argparse.Namespace) -> int:
        import runpy

        from .registration import install

        install(target=args.target, model_dirs=args.model, top_k=args.top_k, promote=args.promote,
                threshold=args.threshold)
        sys.argv = [args.script, *args.script_args]
        runpy.run_path(args.script, run_name="__main__")
        return 0


class BackfillFactsCommand(Command):
    name = "backfill-facts"
    help = "write the facts sidecar for logs recorded without helion_learned (re-binds on CPU)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("logs", nargs="+", help="Helion autotune logs: files, directories, .gz ok")
        p.add_argument("--kernels", action="append", required=True, metavar="MODULE",
                       help="importable module defining the logged @helion.kernel functions "
                            "(repeatable)")
        p.add_argument("--device", default="cpu", help="device to bind on (default: cpu)")
        add_format(p)

    def run(self, args: argparse.Namespace) -> int:
        from .training.logs.backfill import backfill_facts

        counts = backfill_facts(args.logs, args.kernels, device=args.device)
        _emit(sorted(counts.items()), args.format, title="backfilled facts")
        return 0


class CollectCommand(Command):
    """Passes everything after ``collect`` to the collector's own parser, untouched: ``main``
    splits it off before parsing (argparse refuses a REMAINDER positional that starts with an
    option, and would answer ``collect --help`` itself)."""

    name = "collect"
    help = ("benchmark the kernel suite on this machine's GPU(s) into Helion-native logs "
            "(options: helion-learned collect --help)")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.set_defaults(collect_args=[])

    def run(self, args: argparse.Namespace) -> int:
        from .training import collect

        return int(collect.main(args.collect_args) or 0)


COMMANDS: tuple[type[Command], ...] = (TrainCommand, EvaluateCommand, InspectCommand,
                                       ExecCommand, BackfillFactsCommand, CollectCommand)


def unseen_gate_summary(bundle: Any) -> dict[str, Any] | None:
    """What a report says about the bundle's second threshold (None: one threshold)."""
    if bundle.unseen_threshold is None or bundle.known_kernels is None:
        return None
    metrics = bundle.metadata.get("metrics", {})
    return {"threshold": bundle.threshold, "unseen_threshold": bundle.unseen_threshold,
            "n_known_kernels": len(bundle.known_kernels),
            **{k: v for k, v in metrics.items() if k.startswith("unseen_")}}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helion-learned", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for cls in COMMANDS:
        cmd = cls()
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_command=cmd)
    return parser


def _split_passthrough(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``(head, rest)`` when the command is ``collect``: ``head`` is the global options plus the
    command name, ``rest`` goes to the collector as is. ``(argv, None)`` otherwise."""
    i = 0
    while i < len(argv) and argv[i] in ("-v", "--verbose"):
        i += 1
    if i < len(argv) and argv[i] == CollectCommand.name:
        return argv[:i + 1], argv[i + 1:]
    return argv, None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    head, rest = _split_passthrough(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(head)
    if rest is not None:
        args.collect_args = rest
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .models.bundle import BundleError
    from .training.logs import LogFormatError

    try:
        return args._command.run(args)
    except (LogFormatError, BundleError, ValueError, FileNotFoundError) as e:
        print(f"helion-learned {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

