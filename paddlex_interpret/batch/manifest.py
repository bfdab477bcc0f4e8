"""The job manifest: one JSON record per item (status, parameters, content hashes of the input and
of every output), kept as JSON lines in ``save_dir/manifest.jsonl``.

During a job each finished item is appended as one line (one ``write``, flushed and fsync'ed), so a
crash loses at most the line being written; a torn last line is ignored when the file is read. At
the end of a job - finished, failed or interrupted - the file is rewritten atomically with one
line per item. A re-run skips the items whose record says ``done`` with the same parameters, the
same input hash and outputs whose hashes still match; everything else is done again.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Dict, Iterable, Optional

from .._home import atomic_write
from .inputs import hash_bytes

__all__ = ["Manifest", "MANIFEST_NAME", "file_hash", "JobLock"]

MANIFEST_NAME = "manifest.jsonl"
VERSION = 1


def file_hash(path) -> Optional[str]:
    """sha256 of a file's bytes, or None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return hash_bytes(f.read())
    except OSError:
        return None


class Manifest:
    """The records of one output folder, by item key (the last record of a key wins)."""

    def __init__(self, save_dir):
        self.save_dir = Path(save_dir)
        self.path = self.save_dir / MANIFEST_NAME
        self.records: Dict[str, dict] = {}
        self.job: Optional[dict] = None
        self._file = None
        self._read()

    def _read(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, "r", encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash
                if not isinstance(record, dict):
                    continue
                if record.get("type") == "job":
                    self.job = record
                elif record.get("type") == "item" and isinstance(record.get("key"), str):
                    self.records[record["key"]] = record

    def verified(self, key: str, fingerprint: str, input_sha256: Optional[str]) -> Optional[dict]:
        """The record of ``key`` if it is done with these parameters and this input, and every output
        it lists is there with the recorded hash; else None."""
        record = self.records.get(key)
        if not record or record.get("status") != "done" or record.get("fingerprint") != fingerprint:
            return None
        if input_sha256 is None or record.get("input_sha256") != input_sha256:
            return None
        for output in (record.get("outputs") or {}).values():
            path = self.save_dir / output["path"]
            if file_hash(path) != output["sha256"]:
                return None
        return record

    def open(self, job: dict) -> None:
        """Start a run: the job header is recorded and item records are appended from now on."""
        self.job = {"type": "job", "version": VERSION, **job}
        self.compact()
        self._file = open(self.path, "a", encoding="utf-8")

    def add(self, record: dict) -> None:
        """Record an item (appended durably)."""
        record = {"type": "item", **record}
        self.records[record["key"]] = record
        if self._file is not None:
            self._file.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            self._file.flush()
            try:
                os.fsync(self._file.fileno())
            except OSError:
                pass

    def close(self) -> None:
        """End a run: the file is rewritten atomically, one line per item."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.compact()

    def compact(self) -> None:
        with atomic_write(self.path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                if self.job is not None:
                    f.write(json.dumps(self.job, sort_keys=True, default=str) + "\n")
                for record in self.ordered():
                    f.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    def ordered(self) -> Iterable[dict]:
        return sorted(self.records.values(), key=lambda r: (r.get("index", 0), r["key"]))


class JobLock:
    """``save_dir/.batch.lock``: one job per output folder at a time (a stale lock of a dead
    process is taken over)."""

    def __init__(self, save_dir):
        self.path = Path(save_dir) / ".batch.lock"

    def __enter__(self):
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._stale():
                    self.path.unlink(missing_ok=True)
                    continue
                raise RuntimeError(f"another batch job is writing into '{self.path.parent}' (lock file "
                                   f"'{self.path}'); wait for it, or delete the lock file if no job runs") from None
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self
        raise RuntimeError(f"cannot take the lock '{self.path}'")

    def _stale(self) -> bool:
        try:
            pid = int(self.path.read_text().strip() or "0")
        except (OSError, ValueError):
            return True
        if pid <= 0 or pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except OSError as exc:
            return exc.errno == errno.ESRCH
        return False

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        return False
