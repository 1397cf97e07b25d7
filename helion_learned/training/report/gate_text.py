"""Gate sentences of the evaluation report: the unseen-kernel gate, the threshold on workloads it
was not chosen on, and the learned pick against Helion's default (what ungated seeding risks)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .tables import _ok
from .tables import num
from .tables import pct
from .tables import proto_label
from .tables import slowdown


def unseen_gate_text(gate: dict[str, Any] | None) -> str | None:
    """The trained bundle's two thresholds, and why the second exists (training.train)."""
    if not gate or not _ok(gate.get("unseen_threshold")):
        return None

    def fired(prefix: str, verb: str) -> str:
        cov, prec = gate.get(f"{prefix}_coverage"), gate.get(f"{prefix}_precision")
        slow, safe = gate.get(f"{prefix}_max_slowdown"), gate.get(f"{prefix}_not_slower_share")
        if not _ok(cov) or cov == 0:
            return f"{verb} on none of their workloads"
        worst = f", the worst fired pick {float(slow):.2f}× the best time" if _ok(slow) else ""
        kept = (f"{pct(safe)} of them not more than 5 % slower than Helion's default, "
                if _ok(safe) else "")
        return (f"{verb} on {pct(cov)} of their workloads, {kept}{pct(prec)} within 5 % of "
                f"the best{worst}")

    # Bundles before unseen_gate_family_folds held each family out alone.
    n_folds, n_families = gate.get("unseen_gate_family_folds"), gate.get("unseen_gate_families")
    held = (f"the {n_families} kernel families held out in {n_folds} random groups"
            if n_folds and n_families and n_folds < n_families else "each family held out alone")
    return (f"Gate for kernels the logs do not hold ({gate['n_known_kernels']} kernels known): "
            f"threshold {float(gate['unseen_threshold']):.3f}, chosen on the leave-family-out "
            f"outcomes ({held}, confidence from the shipped calibrator). On the "
            f"held-out kernels it {fired('unseen_threshold', 'fires')}. The known-kernel "
            f"threshold {float(gate['threshold']):.3f} alone "
            f"{fired('unseen_at_main_threshold', 'would fire')}.")


def held_out_gate_text(primary: tuple[str | None, Mapping[str, Any] | None]) -> str | None:
    name, proto = primary
    held = ((proto or {}).get("threshold") or {}).get("held_out") or {}
    if not held.get("repeats"):
        return None
    if not held.get("n_fired"):
        fired = "it fires on none of them"
    else:
        safe = held.get("not_slower_share")
        kept = (f"{pct(safe)} of those not more than 5 % slower than Helion's default, "
                if _ok(safe) else "")
        fired = (f"it fires on {pct(held.get('coverage'))} of them, {kept}"
                 f"{pct(held.get('precision'))} within 5 % of the best, the worst fired pick "
                 f"{slowdown(held.get('max_slowdown', math.nan))} the best time")
    gated = held.get("behind_gate_geomean")
    gated_text = (f" With Helion's default where it abstains, those workloads run at "
                  f"{num(gated)} of the best (geomean over the splits)." if gated is not None
                  else "")
    return (f"The threshold on workloads it was not chosen on ({proto_label(str(name))}; chosen "
            f"on 4/5 of the workloads, fired on the other 1/5, {held['repeats']} random splits "
            f"pooled): {fired}.{gated_text} The precision above is measured on the outcomes the "
            "threshold was chosen on, so it is optimistic.")


def vs_default_text(protos: Mapping[str, Any]) -> list[str]:
    parts = []
    for name, p in protos.items():
        v = p.get("vs_default") or {}
        if v.get("n"):
            parts.append(f"{proto_label(name)}: slower by more than {pct(v['within'])} on "
                         f"{v['slower']} of {v['n']} workloads, faster by more than that on "
                         f"{v['faster']}, the worst pick {num(v['worst_ratio'])}× the default's "
                         "speed")
    if not parts:
        return []
    return ["The learned pick against Helion's default on the same workloads (what "
            "`install(threshold=0)` risks: it takes the pick everywhere): " + "; ".join(parts)
            + ". The gate asks the same question (is the pick slower than Helion's default?): "
            "its threshold keeps fired picks more than 5 % slower than the default within the "
            "wrong-pick budget, and where it abstains users keep Helion's default (the "
            "behind-the-gate row)."]
