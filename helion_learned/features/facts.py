"""KernelFacts: a plain, JSON-serialisable record of what a bound Helion kernel *is*.

Training and inference both go through this record: at bind time it is built from Helion's
``CompileEnvironment``/``DeviceIR``; offline it is read back from the facts sidecar that
:mod:`helion_learned.registration` writes next to Helion's autotune logs. The feature vector therefore
cannot drift between the two paths.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import inspect
import json
from typing import Any

FACTS_SCHEMA_VERSION = 1

# Op name -> coarse category. Categories (not raw op names) are what the model sees, so a kernel
# using an op we never trained on still lands in a meaningful bucket.
_DOT_OPS = {"addmm", "mm", "bmm", "baddbmm", "dot", "matmul", "dot_scaled"}
_REDUCE_OPS = {"sum", "amax", "amin", "max", "min", "mean", "var", "var_mean", "prod", "argmax",
               "argmin", "logsumexp", "std", "reduce", "cumsum", "cumprod", "any", "all"}
_SFU_OPS = {"exp", "exp2", "log", "log2", "log1p", "expm1", "tanh", "sigmoid", "erf", "rsqrt",
            "sqrt", "sin", "cos", "pow", "reciprocal", "gelu", "silu", "softplus", "atan", "tan"}
_MEMORY_OPS = {"load": "load", "store": "store", "atomic_add": "atomic", "atomic_max": "atomic",
               "atomic_min": "atomic", "atomic_cas": "atomic", "atomic_xchg": "atomic"}
_CAST_OPS = {"convert_element_type", "_to_copy", "to", "type_as"}
_STRUCTURE_OPS = {"_for_loop", "_while_loop", "_if", "_phi", "_host_tensor", "_get_symnode",
                  "_mask_to", "_new_var", "_inductor_lowering_extra", "full", "zeros", "ones",
                  "empty", "tile_index", "tile_begin", "tile_end", "tile_block_size", "tile_id",
                  "getitem", "sym_size", "_constant_tensor", "subscript"}
OP_CATEGORIES = ("dot", "reduce", "sfu", "elementwise", "load", "store", "atomic", "cast", "loop")


def op_category(name: str) -> str | None:
    """Map a call_function target name (``addmm.default``, ``exp``) to a coarse category."""
    raw = name.split(".")[0]
    base = raw.lstrip("_")
    if raw in ("_for_loop", "_while_loop"):
        return "loop"
    if raw in _MEMORY_OPS:
        return _MEMORY_OPS[raw]
    if base in _DOT_OPS:
        return "dot"
    if base in _REDUCE_OPS:
        return "reduce"
    if base in _SFU_OPS:
        return "sfu"
    if base in _CAST_OPS:
        return "cast"
    if raw in _STRUCTURE_OPS or base in _STRUCTURE_OPS:
        return None
    return "elementwise"


@dataclasses.dataclass(frozen=True)
class BlockFact:
    """One tunable block-size axis (``config_spec.block_sizes`` entry), in config order."""

    block_id: int
    size_hint: int
    min_size: int
    max_size: int
    autotuner_min: int
    role: str  # "m" | "n" | "k" | "reduction" | "grid" | "loop"
    contiguous: bool  # stride-1 axis of some memory op (coalescing-sensitive)


@dataclasses.dataclass(frozen=True)
class KernelFacts:
    """What the model knows about a kernel. Plain JSON types only."""

    kernel_name: str
    backend: str
    kind: str  # "matmul" | "reduction" | "pointwise" | "other"
    blocks: tuple[BlockFact, ...]
    grid_block_ids: tuple[int, ...]
    # Lengths of list-valued config fields: a partial config must match them exactly.
    num_reduction_loops: int = 0
    reduction_loop_extents: tuple[int, ...] = ()
    num_l2_groupings: int = 0
    num_loop_orders: int = 0
    # Tile loops Helion may flatten into one 1-D block (``flatten_loops``); 0 in facts recorded
    # before stop 20, which only the candidate grid reads (offline features read the configs).
    num_flatten_loops: int = 0
    num_range_loops: int = 0
    num_indexing: int = 0
    allowed_pid_types: tuple[str, ...] = ("flat",)
    # Workload facts. Empty tuples / None mean "not present" (never silently zero in features).
    matmuls: tuple[dict[str, Any], ...] = ()
    reductions: tuple[dict[str, Any], ...] = ()
    pointwise: dict[str, Any] | None = None
    memory: dict[str, Any] = dataclasses.field(default_factory=dict)
    op_histogram: dict[str, int] = dataclasses.field(default_factory=dict)
    inputs: tuple[dict[str, Any], ...] = ()
    schema_version: int = FACTS_SCHEMA_VERSION

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KernelFacts:
        version = data.get("schema_version")
        if version != FACTS_SCHEMA_VERSION:
            raise ValueError(
                f"kernel facts have schema_version={version!r}, this helion_learned reads "
                f"{FACTS_SCHEMA_VERSION}. Re-record the facts with this version "
                "(re-run the workload with helion_learned installed, or "
                "`helion-learned backfill-facts LOGS --kernels MODULE`)."
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"kernel facts have unknown keys {sorted(unknown)}; expected {sorted(fields)}")
        kw = dict(data)
        kw["blocks"] = tuple(BlockFact(**b) for b in data.get("blocks", ()))
        for key in ("grid_block_ids", "reduction_loop_extents", "allowed_pid_types"):
            kw[key] = tuple(data.get(key, ()))
        for key in ("matmuls", "reductions", "inputs"):
            kw[key] = tuple(dict(x) for x in data.get(key, ()))
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> KernelFacts:
        return cls.from_dict(json.loads(text))

    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    # -- convenience -------------------------------------------------------------------------
    def block(self, role: str) -> BlockFact | None:
        return next((b for b in self.blocks if b.role == role), None)


def _dtype_bits(dtype: object) -> int | None:
    itemsize = getattr(dtype, "itemsize", None)
    return int(itemsize) * 8 if itemsize else None


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _op_histogram(device_ir: object) -> dict[str, int]:
    from helion._compiler.device_ir import ReductionLoopGraphInfo

    counts: collections.Counter[str] = collections.Counter()
    for graph_info in getattr(device_ir, "graphs", ()):
        # Rolled reduction graphs are copies of an original graph: counting them would double count.
        if isinstance(graph_info, ReductionLoopGraphInfo):
            continue
        for node in graph_info.graph.nodes:
            if node.op != "call_function":
                continue
            name = getattr(node.target, "__name__", str(node.target))
            category = op_category(name)
            if category is not None:
                counts[category] += 1
    return dict(sorted(counts.items()))


def _block_roles(config_spec: Any) -> dict[int, str]:
    roles: dict[int, str] = {}
    matmul_facts = list(getattr(config_spec, "matmul_facts", ()) or ())
    if matmul_facts:
        first = matmul_facts[0]
        for role, attr in (("m", "m_block_id"), ("n", "n_block_id"), ("k", "k_block_id")):
            bid = getattr(first, attr, None)
            if bid is not None:
                roles.setdefault(int(bid), role)
    reduction_ids = set(getattr(config_spec, "reduction_block_ids", ()) or ())
    for bid in reduction_ids:
        roles.setdefault(int(bid), "reduction")
    for bid in getattr(config_spec, "grid_block_ids", ()) or ():
        roles.setdefault(int(bid), "grid")
    return roles


def _memory_summary(config_spec: Any) -> tuple[dict[str, Any], set[int]]:
    ops = list(getattr(config_spec, "memory_op_facts", ()) or ())
    contiguous: set[int] = set()
    loads = stores = atomics = 0
    load_bytes = store_bytes = 0
    itemsizes: list[int] = []
    max_ndim = 0
    reuses = 0
    for op in ops:
        kind = getattr(op, "kind", "")
        itemsize = getattr(getattr(op, "dtype", None), "itemsize", 0) or 0
        accessed = int(getattr(op, "accessed_numel", 0) or 0)
        if kind == "load":
            loads += 1
            load_bytes += accessed * itemsize
        elif kind == "store":
            stores += 1
            store_bytes += accessed * itemsize
        else:
            atomics += 1
            store_bytes += accessed * itemsize
        if itemsize:
            itemsizes.append(int(itemsize))
        max_ndim = max(max_ndim, int(getattr(op, "ndim", 0) or 0))
        reuses += int(getattr(op, "num_reuses", 0) or 0)
        block_ids = getattr(op, "subscript_block_ids", ()) or ()
        strides = getattr(op, "subscript_strides", ()) or ()
        for bid, stride in zip(block_ids, strides, strict=False):
            if bid is not None and stride == 1:
                contiguous.add(int(bid))
    summary = {
        "num_loads": loads,
        "num_stores": stores,
        "num_atomics": atomics,
        "load_bytes": load_bytes,
        "store_bytes": store_bytes,
        "min_itemsize": min(itemsizes) if itemsizes else None,
        "max_itemsize": max(itemsizes) if itemsizes else None,
        "max_ndim": max_ndim,
        "num_reuses": reuses,
    }
    return summary, contiguous


def _kind(matmuls: list[Any], reductions: list[Any], pointwise: object) -> str:
    if matmuls:
        return "matmul"
    if reductions:
        return "reduction"
    if pointwise is not None:
        return "pointwise"
    return "other"


def _inputs(env: Any) -> tuple[dict[str, Any], ...]:
    import torch

    try:
        values = env.runtime_arg_values_by_name
    except Exception:  # not inside a bind: facts still work, just without real inputs
        return ()
    result = []
    for name, value in values.items():
        if isinstance(value, torch.Tensor):
            result.append({"name": name, "shape": [int(s) for s in value.shape],
                           "stride": [int(s) for s in value.stride()], "dtype": str(value.dtype)})
        elif isinstance(value, (int, float, bool)):
            result.append({"name": name, "scalar": float(value)})
    return tuple(result)


def facts_from_env(env: Any, device_ir: Any) -> KernelFacts:
    """Build :class:`KernelFacts` from a bound kernel's environment (call at bind time)."""
    cs = env.config_spec
    roles = _block_roles(cs)
    memory, contiguous = _memory_summary(cs)
    coalescing = getattr(getattr(cs, "reduction_kernel_fact", None), "coalescing_sensitive_block_ids", ())
    contiguous |= {int(b) for b in coalescing or ()}
    blocks = []
    for spec in cs.block_sizes:
        bid = int(spec.block_id)
        blocks.append(BlockFact(
            block_id=bid,
            size_hint=int(spec.size_hint),
            min_size=int(spec.min_size),
            max_size=int(spec.max_size),
            autotuner_min=int(getattr(spec, "autotuner_min", spec.min_size)),
            role=roles.get(bid, "loop"),
            contiguous=bid in contiguous,
        ))
    matmul_facts = list(getattr(cs, "matmul_facts", ()) or ())
    matmuls = tuple(
        {
            "m": _int_or_none(f.static_m), "n": _int_or_none(f.static_n), "k": _int_or_none(f.static_k),
            "lhs_bits": _dtype_bits(f.lhs_dtype), "rhs_bits": _dtype_bits(f.rhs_dtype),
            "lhs_ndim": int(f.lhs_ndim), "rhs_ndim": int(f.rhs_ndim),
        }
        for f in matmul_facts
    )
    red_fact = getattr(cs, "reduction_kernel_fact", None)
    reductions = tuple(
        {
            "category": getattr(r.category, "value", str(r.category)),
            "size_hint": _int_or_none(r.size_hint),
            "itemsize": _int_or_none(r.input_load_itemsize),
            "row_reread": bool(r.row_reread),
        }
        for r in (getattr(red_fact, "reductions", ()) or ())
    )
    pw_list = list(getattr(cs, "pointwise_facts", ()) or ())
    pointwise = None
    if pw_list:
        pw = pw_list[0]
        pointwise = {
            "total_numel": _int_or_none(pw.total_numel),
            "slab_numel": _int_or_none(pw.slab_numel),
            "storage_itemsize": _int_or_none(pw.storage_itemsize),
            "compute_itemsize": _int_or_none(pw.compute_itemsize),
            "sfu_ops": _int_or_none(pw.sfu_ops),
            "gather_stride": _int_or_none(getattr(pw, "gather_stride", None)),
        }
    reduction_loops = list(getattr(cs, "reduction_loops", ()) or ())
    extents = []
    for loop in reduction_loops:
        hint = getattr(loop, "size_hint", None)
        extents.append(int(hint) if hint is not None else 0)
    pid_types = getattr(cs, "allowed_pid_types", None) or ("flat",)
    return KernelFacts(
        kernel_name=_kernel_name(device_ir),
        backend=str(getattr(env, "backend_name", "triton")),
        kind=_kind(matmul_facts, list(reductions) or list(getattr(cs, "reduction_loops", ()) or ()),
                   pointwise),
        blocks=tuple(blocks),
        grid_block_ids=tuple(int(b) for b in getattr(cs, "grid_block_ids", ()) or ()),
        num_reduction_loops=len(reduction_loops),
        reduction_loop_extents=tuple(extents),
        num_l2_groupings=len(getattr(cs, "l2_groupings", ()) or ()),
        num_loop_orders=len(getattr(cs, "loop_orders", ()) or ()),
        num_flatten_loops=len(getattr(cs, "flatten_loops", ()) or ()),
        num_range_loops=len(getattr(cs, "range_unroll_factors", ()) or ()),
        num_indexing=int(memory["num_loads"] + memory["num_stores"]),
        allowed_pid_types=tuple(str(p) for p in pid_types),
        matmuls=matmuls,
        reductions=reductions,
        pointwise=pointwise,
        memory=memory,
        op_histogram=_op_histogram(device_ir),
        inputs=_inputs(env),
    )


def _host_fn(device_ir: Any) -> Any:
    host_function = getattr(device_ir, "host_function", None)
    if host_function is None:
        from helion._compiler.host_function import HostFunction

        host_function = HostFunction.current()
    return host_function.fn


def _kernel_name(device_ir: Any) -> str:
    try:
        return str(_host_fn(device_ir).__name__)
    except Exception:
        return ""


def kernel_source(device_ir: Any) -> str | None:
    """Source text of the kernel, as Helion's ``Kernel.kernel_source()`` returns it."""
    try:
        return inspect.getsource(_host_fn(device_ir))
    except Exception:
        return None
