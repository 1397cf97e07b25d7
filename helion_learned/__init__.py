"""helion_learned: learned (XGBoost) cost-model autotuner heuristics for Helion.

Runtime entry points are :func:`install` / :func:`uninstall` and :func:`autotuner` (the learned
top-k search as an ``autotuner_fn``). Importing this package is cheap: it
loads no model and no training code until ``install()`` is called.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "autotuner", "install", "installed", "uninstall"]


def __getattr__(name: str):  # lazy: keep `import helion_learned` free of helion/xgboost imports
    if name in ("install", "uninstall", "installed"):
        import importlib

        return getattr(importlib.import_module(".registration", __name__), name)
    if name == "autotuner":  # @helion.kernel(autotuner_fn=helion_learned.autotuner(k=8))
        import importlib

        return importlib.import_module(".search", __name__).autotuner
    raise AttributeError(f"module 'helion_learned' has no attribute {name!r}")
