"""Swap a finished directory into place atomically, one saver at a time (bundles are dirs)."""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` into place at ``dst``; an old ``dst`` is renamed away first, then deleted.

    Savers of the same ``dst`` (two trainings writing one bundle, in any processes) take turns
    through a lock file next to it, so each swap is whole: ``dst`` always ends up one complete
    bundle, and no temp, old or lock file is left behind. Without ``fcntl`` (Windows) a swap
    that loses a race is retried instead.
    """
    with dir_lock(dst):
        # Old copies only live inside the lock: any found now are from a saver that died mid-swap.
        for stale in dst.parent.glob(f".{glob.escape(dst.name)}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        olds = []
        for attempt in range(50):
            old = dst.with_name(f".{dst.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.replace(dst, old)
                olds.append(old)
            except FileNotFoundError:
                pass  # no previous bundle
            try:
                os.replace(src, dst)
                break
            except OSError:  # another saver put its bundle there first (no lock): again
                if attempt == 49 or not dst.exists():
                    raise
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def dir_lock(dst: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``.<name>.lock`` next to ``dst``; the file is removed after."""
    try:
        import fcntl
    except ImportError:  # Windows: replace_dir retries instead
        yield
        return
    lock = dst.with_name(f".{dst.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break  # locked the file that is still there (not one a holder just unlinked)
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)  # while still holding it; late comers notice and lock the new file
        os.close(fd)
