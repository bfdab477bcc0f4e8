"""Where paddlex_interpret keeps its caches (converted weights, prior assets), and how it writes
files: atomically, and ``.npz`` files as arrays plus one JSON ``meta`` entry, read without pickle."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

__all__ = ["home_dir", "atomic_write", "write_npz", "read_npz"]


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


def write_npz(path, meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> Path:
    """Write ``arrays`` and ``meta`` (as JSON; numpy scalars and arrays become numbers and lists,
    anything else its ``str``) to ``path`` as a compressed ``.npz``, atomically."""
    import numpy as np

    path = Path(path)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(dict(meta), default=_json_default)), **arrays)
    return path


def read_npz(path, what: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(meta, {name: array})`` of a file written by :func:`write_npz`, read with
    ``allow_pickle=False``. FileNotFoundError if ``path`` is not a file; ValueError naming the file
    and ``what`` it should have been if it is truncated, foreign or has no meta."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: '{path}'")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except Exception as exc:  # zip / npy / json errors of a truncated or foreign file
        raise ValueError(f"'{path}' is not a {what} file ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"'{path}' is not a {what} file (its meta is not a JSON object)")
    return meta, arrays


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
