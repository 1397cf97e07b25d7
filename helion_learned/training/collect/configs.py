"""The config list the collector measures per workload: Helion's defaults, every seed of Helion's
own heuristics, random configs and a sample of our structured grid (normalized and deduped)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

_TRANSFER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError,
                                                      AssertionError)


def config_list(bound: Any, values: dict[str, Any], facts: Any, seed: int, *,
                overrides: dict[str, Any], n_random: int, n_grid: int,
                extra: list[dict[str, Any]] | None = None,
                ) -> tuple[list[Any], list[tuple[str, str]], dict[str, Any]]:
    """Normalized, deduped configs to measure; (config_id, origin) pairs; counts for the record.

    Origins follow :mod:`..logs.origins` (first one recorded for a config wins): ``default`` (fragment
    defaults), ``heuristic:<name>``, ``helion_default`` (a promoted default matching no seed),
    ``random``, ``grid``, and ``replay`` for ``extra`` (configs of a replay plan, see
    :mod:`.replay`).
    """
    import helion
    from helion import exc
    from helion.autotuner.search_space_logger import canonical_config_id

    cs = bound.env.config_spec
    gen = cs.create_config_generation(overrides=overrides or None)
    max_sizes = [int(spec.max_size) for spec in cs.block_sizes]
    configs: dict[str, Any] = {}
    origins: list[tuple[str, str]] = []
    invalid: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()

    def add(config: Any, origin: str, source: str) -> tuple[str | None, bool]:
        try:
            if not isinstance(config, helion.Config):
                config = helion.Config(**config)
            norm = gen.canonicalize_flat(gen.flatten(config))[1]
            sizes = norm.config.get("block_sizes") or []
            if any(int(s) > m for s, m in zip(sizes, max_sizes, strict=False)):
                raise exc.InvalidConfig("block size above max_size")  # normalize lets it through
        except (exc.InvalidConfig, *_TRANSFER_ERRORS):
            invalid[source] += 1
            return None, False
        cid = canonical_config_id(norm)
        new = cid not in configs
        if new:
            configs[cid] = norm
        else:
            duplicates[source] += 1
        origins.append((cid, origin))
        return cid, new

    reference = cs.autotune_reference_config()
    fragment_id, _ = add(reference, "default", "default")
    seed_ids = [add(cfg, origin, "heuristic")[0] for cfg, origin in seed_origins(bound, values)]
    promoted_by = None
    if getattr(cs, "compiler_default_config", None) is not None:
        # A heuristic promoted its seed: this is what Helion runs with autotuning off. It is
        # normally that seed (then its origin stays heuristic:<name>: first origin wins).
        default_id, _ = add(cs.default_config(), "helion_default", "helion_default")
        promoted_by = next((o for c, o in origins if c == default_id and o != "helion_default"),
                           "unknown")
    else:
        default_id = fragment_id
    for config in extra or []:  # another GPU's configs of this workload, measured here too
        add(config, "replay", "replay")
    state = random.getstate()
    random.seed(seed)  # Helion's random generator draws from the global `random`
    got = attempts = 0
    while got < n_random and attempts < 3 * n_random:
        attempts += 1
        try:
            config = gen.random_config()
        except exc.InvalidConfig:
            invalid["random"] += 1
            continue
        got += add(config, "random", "random")[1]
    random.setstate(state)
    try:
        grid_configs = grid(facts, n_grid, seed, reference=dict(reference.config))
    except Exception as e:  # a grid bug must not cost the workload's other measurements
        invalid[f"grid:{type(e).__name__}"] += 1
        grid_configs = []
    for partial in grid_configs:
        add(partial, "grid", "grid")
    first_origin: dict[str, str] = {}
    for cid, origin in origins:
        first_origin.setdefault(cid, origin)
    stats = {
        "fragment_default_config_id": fragment_id, "helion_default_config_id": default_id,
        "promoted_by": promoted_by, "heuristics": list(getattr(cs, "autotuner_heuristics", [])),
        "heuristic_seed_ids": [s for s in seed_ids if s], "n_invalid": dict(invalid),
        "n_duplicates": dict(duplicates), "n_by_origin": dict(Counter(first_origin.values())),
    }
    return list(configs.values()), origins, stats


def seed_origins(bound: Any, values: dict[str, Any]) -> list[tuple[Any, str]]:
    """Helion's compiler seeds, each attributed to the heuristic that produced it.

    ``compiler_seed_configs`` is the deduped union over heuristics, so we ask each heuristic that
    fired again (the same calls Helion made at bind time); unattributed seeds get all names.
    """
    from helion._compiler import autotuner_heuristics as ah

    env = bound.env
    cs = env.config_spec
    fired = list(getattr(cs, "autotuner_heuristics", []))
    seeds = list(getattr(cs, "compiler_seed_configs", []) or [])
    out: list[tuple[Any, str]] = []
    with env, env.use_runtime_arg_values(values):
        for h in ah.get_heuristics(env.backend_name):
            if h.name not in fired:
                continue
            try:
                ranked = h.get_seed_configs(env, bound.host_function.device_ir)
                if ranked is None:
                    ranked = [h.get_seed_config(env, bound.host_function.device_ir)]
            except Exception:
                continue
            out.extend((c, f"heuristic:{h.name}") for c in ranked if c is not None)
    fallback = "heuristic:" + ("+".join(fired) or "unknown")
    seen = {repr(c) for c, _ in out}
    return out + [(c, fallback) for c in seeds if repr(c) not in seen]  # only fill gaps


def grid(facts: Any, limit: int, seed: int, *,
         reference: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``limit`` configs from the grid the adapter ranks (a plain fallback without models),
    plus what it does not rank yet but logs should measure: split-K programs with K ranges wider
    than 16 and matmul tiles past m*n*k = 2**18 (``explore``, see
    :func:`helion_learned.models.candidates.structured_grid`).

    ``reference``: Helion's fragment defaults, which the cute grid varies (see
    :mod:`helion_learned.models.cute_candidates`)."""
    if limit <= 0:
        return []
    try:
        from ...models.candidates import candidate_grid
    except ImportError:  # the model package is optional for collection
        return _fallback_grid(facts, limit, seed)
    return candidate_grid(facts, reference=reference, limit=limit, seed=seed, explore=True)


def _fallback_grid(facts: Any, limit: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(limit):
        sizes = []
        for b in facts.blocks:
            lo = max(b.min_size, b.autotuner_min, 1).bit_length() - 1
            hi = max(lo, min(b.max_size, 256).bit_length() - 1)
            sizes.append(2 ** rng.randint(lo, hi))
        out.append({"block_sizes": sizes, "num_warps": rng.choice([2, 4, 8]),
                    "num_stages": rng.choice([1, 2, 3, 4])})
    return out
