"""The runtime path (install, adapter, features, models) never imports training-only code."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_install_and_bind_import_no_training_code(tmp_path) -> None:
    code = textwrap.dedent("""
        import os, sys
        os.environ["TRITON_INTERPRET"] = "1"
        import torch, helion, helion.language as hl
        import helion_learned

        helion_learned.install(target="sm90")  # the shipped bundle

        @helion.kernel(static_shapes=True, autotune_effort="none")
        def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            out = torch.empty_like(x)
            for tile in hl.tile(out.size()):
                out[tile] = x[tile] + y[tile]
            return out

        x = torch.randn(64, 64)
        assert torch.equal(add(x, x), x + x)
        bad = sorted(m for m in sys.modules
                     if m.startswith(("helion_learned.training", "helion_learned.cli",
                                      "matplotlib", "pandas")))
        print("IMPORTED:" + ",".join(bad))
    """)
    script = tmp_path / "runtime_only.py"  # Helion reads kernel source: needs a real file
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("IMPORTED:"))
    assert line == "IMPORTED:", line
