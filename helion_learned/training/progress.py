"""Progress bars for long CLI work (rich), silent when output is not a terminal or under --quiet."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def progress_bars(*, enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """Yields ``update(task_name, done, total)``; one bar per task name."""
    if not enabled:
        yield lambda name, done, total: None
        return
    from rich.progress import BarColumn
    from rich.progress import MofNCompleteColumn
    from rich.progress import Progress
    from rich.progress import TextColumn
    from rich.progress import TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=False, disable=not sys.stderr.isatty(),
                  console=None) as progress:
        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=max(total, 1))
            progress.update(tasks[name], completed=done, total=max(total, 1))

        yield update
