"""Where paddlex_interpret keeps its caches (converted weights, prior assets)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["home_dir", "atomic_write"]


def home_dir() -> Path:
    """``$PADDLEX_INTERPRET_HOME`` if set, else ``~/.paddlex_interpret``."""
    return Path(os.environ.get("PADDLEX_INTERPRET_HOME") or Path.home() / ".paddlex_interpret").expanduser()


class atomic_write:
    """Context manager yielding a temporary path next to ``target``; on success it replaces
    ``target`` in one step, on error it is deleted, so readers never see a half-written file."""

    def __init__(self, target, suffix: str = ""):
        self.target = Path(target)
        self.suffix = suffix or self.target.suffix

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=f".tmp{self.suffix}", dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)
        return False
