"""The driver of a batch job: items -> payloads -> a backend -> files and manifest records.

Only this process writes into ``save_dir`` (atomically, file by file); workers return bytes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .._home import atomic_write
from . import backends as _backends
from .inputs import Item, collect_inputs, hash_array, hash_bytes, item_seed
from .manifest import JobLock, Manifest
from .spec import as_model_spec

__all__ = ["JobResult", "run_job", "prepare_save_dir"]

THUMBNAIL_SIZE = 320


@dataclass
class JobResult:
    """What a batch job did.

    Attributes
    ----------
    save_dir : Path
    done, skipped, failed : int
        Items explained in this run, items whose verified outputs were kept from an earlier run,
        items that failed (their error is in ``records``).
    records : list of dict
        The manifest record of every item of the job, in input order.
    manifest, index_csv, gallery : Path or None
        The files written (``index_csv``/``gallery`` for explain jobs).
    seconds : float
        Wall time of this run.
    """

    save_dir: Path
    done: int = 0
    skipped: int = 0
    failed: int = 0
    records: List[dict] = field(default_factory=list)
    manifest: Optional[Path] = None
    index_csv: Optional[Path] = None
    gallery: Optional[Path] = None
    seconds: float = 0.0
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> List[dict]:
        return [r for r in self.records if r.get("status") == "failed"]

    def __repr__(self) -> str:
        return (f"JobResult(save_dir='{self.save_dir}', done={self.done}, skipped={self.skipped}, "
                f"failed={self.failed}, seconds={self.seconds:.1f})")


def prepare_save_dir(save_dir) -> Path:
    if save_dir is None or not isinstance(save_dir, (str, os.PathLike)):
        raise TypeError(f"save_dir must be a folder path, got {save_dir!r}")
    path = Path(save_dir)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"save_dir exists and is not a folder: '{path}'")
    path.mkdir(parents=True, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"save_dir '{path}' is not writable; choose another folder")
    return path


def _check_workers(workers, backend) -> int:
    if workers is None:
        if backend == "ray":
            return _backends.ray_workers()
        return 1 if backend == "serial" else _backends.default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1 or None, got {workers!r}")
    return workers


def _fingerprint(task, model_description, seed) -> str:
    text = json.dumps({"task": task.describe(), "model": model_description, "seed": seed}, sort_keys=True,
                      default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _read_input(item: Item):
    """``(payload fields, input sha256)``; raises for an unreadable item."""
    if item.path is not None:
        data = Path(item.path).read_bytes()
        return {"name": Path(item.path).name, "data": data, "array": None}, hash_bytes(data)
    array = item.load()
    return {"name": item.key, "data": None, "array": array}, hash_array(array)


def _thumbnail(png: bytes) -> bytes:
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(png)) as im:
        im = im.convert("RGB")
        box = ImageChops.difference(im, Image.new("RGB", im.size, (255, 255, 255))).getbbox()
        if box is not None:  # the figure without its white margins
            im = im.crop(box)
        im.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        out = io.BytesIO()
        im.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _write(save_dir: Path, relative: str, data: bytes) -> dict:
    path = save_dir / relative
    with atomic_write(path) as tmp:
        Path(tmp).write_bytes(data)
    return {"path": relative, "sha256": hash_bytes(data)}


_TEMPORARY = re.compile(r"^\.(.+)\.[0-9a-f]{8}\.tmp[^/]*$")


def _remove_stale_temporaries(save_dir: Path) -> None:
    """Half-written temporaries a killed job left (``atomic_write``'s ``.<name>.<8 hex>.tmp*``); no
    other job writes here while we hold the lock."""
    for path in save_dir.rglob(".*.tmp*"):
        if path.is_file() and _TEMPORARY.match(path.name):
            path.unlink(missing_ok=True)


def run_job(inputs, model, task, save_dir, *, backend: str = "serial", workers: Optional[int] = None,
            seed: int = 0, threads: Optional[int] = None, model_overrides: Optional[Dict[str, Any]] = None,
            progress: bool = True, callback: Optional[Callable[[dict], None]] = None,
            max_in_flight: Optional[int] = None, description: str = "batch", finish=None) -> JobResult:
    """Run ``task`` over ``inputs`` (see :func:`paddlex_interpret.interpret.explain_folder`).

    ``finish(manifest, result)`` (optional) writes the job's summary files after the last item and
    after an interruption; ``callback(record)`` is called after each item is recorded (raising
    ``KeyboardInterrupt`` there stops the job as Ctrl-C does).
    """
    from tqdm.auto import tqdm

    if backend not in _backends.BACKENDS:
        raise ValueError(f"backend must be one of {_backends.BACKENDS}, got {backend!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    workers = _check_workers(workers, backend)
    serial_threads = threads  # serial: the user's threads only (None leaves Paddle's default)
    if threads is None:
        threads = max(1, _backends.default_workers() // workers) if backend != "ray" else 1
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1 or None, got {threads!r}")
    spec = as_model_spec(model, model_overrides)
    if spec is None:
        if backend != "serial":
            raise TypeError(
                f"backend={backend!r} loads the model in each worker, so the model must travel as data: pass a "
                f"path (a PaddleX model directory, an exported model, a PaddleClas config or a (config, weights) "
                f"pair), 'demo', or a paddlex_interpret.batch.ModelSpec(path, overrides) - not a "
                f"{type(model).__name__} object. backend='serial' takes model objects.")
        if model_overrides:
            raise TypeError("model_overrides apply to a model path; a model object carries its own settings")
        model_description = {"object": f"{type(model).__module__}.{type(model).__name__}"}
    else:
        model_description = spec.describe()
    save_dir = prepare_save_dir(save_dir)
    items = collect_inputs(inputs, exclude=save_dir)
    fingerprint = _fingerprint(task, model_description, seed)
    result = JobResult(save_dir=save_dir)
    start_time = time.perf_counter()

    with JobLock(save_dir):
        _remove_stale_temporaries(save_dir)
        manifest = Manifest(save_dir)
        manifest.open({"task": task.describe(), "model": model_description, "seed": seed, "backend": backend,
                       "workers": workers, "threads": threads, "fingerprint": fingerprint,
                       "items": len(items), "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        keys, meta = [], {}
        bar = tqdm(total=len(items), desc=description, unit="img", disable=not progress, dynamic_ncols=True)

        def tick():
            bar.set_postfix(failed=result.failed, skipped=result.skipped, refresh=False)
            bar.update(1)

        def record(key, status, **fields):
            entry = {"key": key, "index": meta[key]["index"], "status": status, "fingerprint": fingerprint,
                     "seed": meta[key]["seed"], "input_sha256": meta[key].get("input_sha256"),
                     "source": meta[key]["source"], **fields}
            manifest.add(entry)
            if status == "failed":
                result.failed += 1
            else:
                result.done += 1
            tick()
            if callback is not None:
                callback(entry)

        def payloads():
            for item in items:
                keys.append(item.key)
                seed_i = item_seed(seed, item.key)
                meta[item.key] = {"index": item.index, "seed": seed_i,
                                  "source": str(item.path) if item.path is not None else item.key}
                try:
                    fields, digest = _read_input(item)
                except Exception as exc:  # unreadable / missing input: recorded, the job goes on
                    record(item.key, "failed", error=f"{type(exc).__name__}: {exc}", outputs={}, seconds=0.0)
                    continue
                meta[item.key]["input_sha256"] = digest
                if manifest.verified(item.key, fingerprint, digest) is not None:
                    result.skipped += 1
                    tick()
                    continue
                paths = {role: str(save_dir / rel) for role, rel in task.outputs(item.key).items()}
                yield {"key": item.key, "index": item.index, "seed": seed_i, "paths": paths, **fields}

        if backend == "serial":
            classifier = model if spec is None else spec.load(threads=serial_threads)
            stream = _backends.serial(classifier, task, payloads())
        elif backend == "processes":
            stream = _backends.processes(spec, task, payloads(), workers=workers, threads=threads,
                                         max_in_flight=max_in_flight)
        else:
            stream = _backends.ray_backend(spec, task, payloads(), workers=workers, threads=threads,
                                           max_in_flight=max_in_flight)
        try:
            for out in stream:
                key = out["key"]
                if out["status"] != "done":
                    record(key, "failed", error=out.get("error"), outputs={}, seconds=out.get("seconds"),
                           worker=out.get("worker"))
                    continue
                outputs = {}
                names = task.outputs(key)
                for role, data in out.get("files", {}).items():
                    outputs[role] = _write(save_dir, names[role], data)
                if "figure" in out.get("files", {}) and "thumbnail" in names:
                    outputs["thumbnail"] = _write(save_dir, names["thumbnail"], _thumbnail(out["files"]["figure"]))
                record(key, "done", outputs=outputs, summary=out.get("summary", {}), result=out.get("result"),
                       seconds=out.get("seconds"), worker=out.get("worker"))
        except BaseException:
            result.extra["interrupted"] = True
            raise
        finally:
            stream.close()
            bar.close()
            manifest.close()
            job_keys = set(keys)
            result.records = [r for r in manifest.ordered() if r["key"] in job_keys]
            result.manifest = manifest.path
            result.seconds = time.perf_counter() - start_time
            if finish is not None:
                finish(manifest, result)
    return result
