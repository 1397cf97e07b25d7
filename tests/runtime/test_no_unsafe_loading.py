"""No unsafe loading: nothing in helion_learned deserializes code or runs strings as code.

Bundles and logs are files a user hands us. They are read as data only: JSON, CSV, XGBoost's UBJ
(checked in Python first: ``models/xgb_model.py``) and ``ast.literal_eval`` of config keyword
values. This test scans the package source with ``ast`` and fails on any call that can execute
code from data (pickle & friends, ``eval``/``exec``, ``torch.load``, ``np.load(allow_pickle=...)``,
``yaml.load``, ``marshal``) and on XGBoost model loading outside ``ModelBundle.load``. It guards
future changes: a new use must be argued for here, in ALLOWED, with a reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "helion_learned"

# Modules whose only purpose is (de)serializing Python objects: importing one is already a finding.
FORBIDDEN_MODULES = frozenset({"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal",
                               "shelve", "jsonpickle"})
# Calls by their dotted name as written (module aliases resolved for `import x as y`).
FORBIDDEN_CALLS = frozenset({
    "pickle.load", "pickle.loads", "pickle.Unpickler", "joblib.load", "torch.load",
    "marshal.load", "marshal.loads", "yaml.load", "yaml.unsafe_load", "yaml.full_load",
    "yaml.load_all", "yaml.unsafe_load_all", "pandas.read_pickle", "numpy.lib.format.read_array",
    "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads", "shelve.open",
    "torch.jit.load", "torch.package.PackageImporter", "runpy.run_path", "runpy.run_module",
    "importlib.import_module", "code.interact",
})
FORBIDDEN_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "execfile"})
NUMPY_LOADS = frozenset({"numpy.load", "np.load"})
# Method names that load an XGBoost model; only ModelBundle.load may, on checked bytes.
XGB_LOADERS = frozenset({"load_model", "load_raw"})

# (file relative to the package, dotted call) -> why it is fine.
ALLOWED: dict[tuple[str, str], str] = {
    ("cli.py", "runpy.run_path"): "`helion-learned exec SCRIPT` runs the user's own script, as "
                                  "`python SCRIPT` would; nothing from a bundle or a log",
    ("__init__.py", "importlib.import_module"): "lazy import of our own `.registration`",
    ("models/bundle.py", ".load_model"): "ModelBundle.load: bytes checked by xgb_model first",
    ("training/logs/backfill.py", "importlib.import_module"): "`helion-learned backfill-facts --kernels "
                                                             "MODULE` imports the user's own "
                                                             "kernel module by name, never a "
                                                             "log's content",
}


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
        return ".".join(reversed(parts))
    if parts:  # a method call on an expression: `xgb.Booster().load_model(...)`
        return "." + ".".join(reversed(parts))
    return None


def findings(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """``(line, what)`` for every unsafe-loading construct in ``source``."""
    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:  # import a.b as c: c is a.b
                    aliases[a.asname] = a.name
                else:  # import a.b: binds a
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
                if a.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append((node.lineno, a.name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            for a in node.names:
                full = f"{node.module}.{a.name}"
                aliases[a.asname or a.name] = full
                if root in FORBIDDEN_MODULES or full in FORBIDDEN_CALLS:
                    found.append((node.lineno, full))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name is None:
            continue
        if name in FORBIDDEN_BUILTINS or name in FORBIDDEN_CALLS:
            found.append((node.lineno, name))
        elif name.rsplit(".", 1)[-1] in XGB_LOADERS:
            found.append((node.lineno, "." + name.rsplit(".", 1)[-1]))
        elif name in NUMPY_LOADS:
            pickle = next((k.value for k in node.keywords if k.arg == "allow_pickle"), None)
            if pickle is not None and not (isinstance(pickle, ast.Constant)
                                           and pickle.value is False):
                found.append((node.lineno, f"{name}(allow_pickle=...)"))
    return found


def test_scanner_catches_every_pattern() -> None:
    """The guard itself must not rot: each forbidden construct below is reported."""
    source = """
import pickle
import joblib
import numpy as np
import torch as T
import yaml
from marshal import loads
from joblib import load as jl
pickle.loads(b"")
joblib.load("x")
jl("x")
T.load("x")
np.load("x", allow_pickle=True)
np.load("x", allow_pickle=flag)
loads(b"")
eval("1")
exec("1")
yaml.load("x")
booster.load_model("x")
"""
    found = sorted(findings(source))
    assert [line for line, _ in found] == [2, *range(7, 20)], found
    assert findings("import numpy as np\nnp.load('x')\nnp.load('x', allow_pickle=False)\n") == []
    assert findings("from joblib import Parallel\nParallel(n_jobs=2)\n") == []


def test_package_has_no_unsafe_loading() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    problems = []
    for path in files:
        rel = path.relative_to(PACKAGE).as_posix()
        for line, what in findings(path.read_text(encoding="utf-8"), str(path)):
            if (rel, what) not in ALLOWED:
                problems.append(f"helion_learned/{rel}:{line}: {what}")
    assert not problems, ("unsafe loading (see this test's docstring; add to ALLOWED only with a "
                          "reason):\n" + "\n".join(problems))


def test_allowlist_has_no_stale_entries() -> None:
    used = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        used.update((rel, what) for _, what in findings(path.read_text(encoding="utf-8")))
    assert set(ALLOWED) <= used, set(ALLOWED) - used
