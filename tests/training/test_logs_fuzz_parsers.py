"""Fuzzed value parsers: Helion's config reprs (parsed, never evaluated) and perf_ms (SYNTHETIC)."""

from __future__ import annotations

import math
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helion_learned.training.logs import parse_config_repr
from helion_learned.training.logs.parsing import parse_perf_ms
from tests.training._fuzz_logs import CHARS
from tests.training._fuzz_logs import CONFIG_KEYS
from tests.training._fuzz_logs import EVIL_CONFIGS
from tests.training._fuzz_logs import EXAMPLES
from tests.training._fuzz_logs import LITERAL
from tests.training._fuzz_logs import PWNED_ENV
from tests.training._fuzz_logs import PWNED_FILE
from tests.training._fuzz_logs import TEXT
from tests.training._fuzz_logs import _report_examples  # noqa: F401  # autouse fixture
from tests.training._fuzz_logs import fuzz

# -- the two value parsers -----------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        "Config",
        "helion.Config",
        "helion",
        "os",
        "__import__",
        "__builtins__",
        "__class__",
        "eval",
        "exec",
        "open",
        "x",
        "getattr",
        "type",
        "object",
        "__subclasses__",
        "globals",
        "breakpoint",
        "print",
    ]
)


def expressions() -> st.SearchStrategy[str]:
    atom = NAMES | LITERAL.map(repr) | st.sampled_from(["...", "()", "[]", "{}", "b'x'", "1j"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, NAMES).map(lambda t: f"{t[0]}.{t[1]}"),
            st.tuples(inner, st.lists(inner, max_size=2)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(inner, NAMES, inner).map(lambda t: f"{t[0]}({t[1]}={t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            inner.map(lambda e: f"lambda: {e}"),
            inner.map(lambda e: f"(lambda: {e})()"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]} + {t[1]}"),
            inner.map(lambda e: f"[{e} for _ in ()]"),
            inner.map(lambda e: f"f'{{{e}}}'"),
            inner.map(lambda e: f"*{e}"),
            inner.map(lambda e: f"**{e}"),
            inner.map(lambda e: f"(_ := {e})"),
            inner.map(lambda e: f"-{e}"),
            inner.map(lambda e: f"[{e}]"),
            inner.map(lambda e: f"({e},)"),
        )

    expr = st.recursive(atom, extend, max_leaves=6)
    key = NAMES | st.sampled_from(CONFIG_KEYS)
    kwargs = st.lists(st.tuples(key, expr), max_size=3).map(
        lambda kv: ", ".join(f"{k}={v}" for k, v in kv)
    )
    return st.one_of(
        expr,
        st.tuples(st.sampled_from(["Config", "helion.Config", "(Config)", "Config.x"]), kwargs).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.text(CHARS, max_size=40),
        st.text(CHARS, max_size=20).map(lambda t: f"Config({t})"),
    )


LITERAL_TYPES = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    tuple,
    list,
    dict,
    set,
    frozenset,
    type(...),
)


def _is_literal(value: Any) -> bool:
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    return isinstance(value, LITERAL_TYPES)


@fuzz("config_repr")
@given(text=expressions(), literal=LITERAL, key=st.sampled_from(CONFIG_KEYS))
def test_fuzz_parse_config_repr(text: str, literal: Any, key: str) -> None:
    """Config strings are parsed, never evaluated: a dict of literals or a ValueError."""
    EXAMPLES["config_repr"] += 1
    for candidate in (text, f"Config({key}={text})"):
        try:
            parsed = parse_config_repr(candidate)
        except ValueError as exc:
            assert str(exc).startswith("config ")
        else:
            assert isinstance(parsed, dict) and all(isinstance(k, str) for k in parsed)
            assert _is_literal(parsed), parsed
        assert PWNED_ENV not in os.environ and not PWNED_FILE.exists()
    # A literal written as Helion writes it round-trips.
    if not (isinstance(literal, float) and math.isnan(literal)):
        assert parse_config_repr(f"Config({key}={literal!r})") == {key: literal}


def test_evil_configs_are_rejected() -> None:
    """The hand-written non-literal configs above are all refused, none evaluated."""
    for text in EVIL_CONFIGS:
        with pytest.raises(ValueError):
            parse_config_repr(text)
    assert PWNED_ENV not in os.environ and not PWNED_FILE.exists()


@fuzz("perf_ms")
@given(
    text=st.one_of(
        TEXT,
        st.floats().map(repr),
        st.floats().map(lambda f: f" {f:.6e} "),
        st.sampled_from(
            ["nan", "inf", "-inf", "Infinity", "1e400", "-0.0", "0", "1_0", "١٢", "0x1"]
        ),
    )
)
def test_fuzz_parse_perf_ms(text: str) -> None:
    """perf_ms: a positive finite float, or ValueError with a short reason."""
    EXAMPLES["perf_ms"] += 1
    try:
        value = parse_perf_ms(text)
    except ValueError as exc:
        assert str(exc).startswith("perf_ms ")
        try:
            number = float(text)
        except ValueError:
            return
        assert not (math.isfinite(number) and number > 0)
    else:
        assert math.isfinite(value) and value > 0 and value == float(text)
