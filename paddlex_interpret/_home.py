"""Where paddlex_interpret keeps its caches (converted weights, prior assets)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["home_dir", "atomic_write"]


def home_dir() -> Path:
    """``$PADDLEX_INTERPRET_HOME`` if set, else ``~/.paddlex_interpret``."""
    return Path(os.environ.get("PADDLEX_INTERPRET_HOME") or Path.home() / ".paddlex_interpret").expanduser()


class atomic_write:
    """Context manager yielding a temporary path next to ``target``; on success it replaces
    ``target`` in one step, on any error (``KeyboardInterrupt`` included, or a failed replace) it is
    deleted, so readers never see a half-written file. The file gets the permissions
    ``open(target, "w")`` would give a new file (``0o666`` less the umask)."""

    def __init__(self, target, suffix: str = ""):
        self.target = Path(target)
        self.suffix = suffix or self.target.suffix

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            tmp = self.target.parent / f".{self.target.name}.{secrets.token_hex(4)}.tmp{self.suffix}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            self.tmp = tmp
            return tmp
        raise FileExistsError(f"could not create a temporary file next to '{self.target}'")

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                os.replace(self.tmp, self.target)
            except BaseException:
                self.tmp.unlink(missing_ok=True)
                raise
        else:
            self.tmp.unlink(missing_ok=True)
        return False
