"""Explanation jobs: a queue, one worker, progress, cancel, results under random ids.

Jobs run one at a time, in the order they were asked for (so never two jobs on one model at
once). One worker for all models, not one per model: Paddle's autograd switch (``no_grad``) is
process-wide, so a gradient method and a black-box method running side by side in two threads
could disturb each other. A job's progress is the number of samples its model has scored
(:mod:`.observe`), out of the total the method's parameters imply where that is known. A failed
job keeps its error message; the worker goes on with the next job.
"""
from __future__ import annotations

import base64
import html
import inspect
import json
import secrets
import shutil
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from .observe import JobCancelled, Meter, observed

__all__ = ["Job", "JobManager", "UnknownJob"]

STATES = ("queued", "running", "done", "failed", "cancelled")
_MAX_ERROR = 2000


class UnknownJob(KeyError):
    """No job (or no file of a job) with that id."""


def new_id() -> str:
    """A random id for a run or an input (not guessable, URL-safe)."""
    return secrets.token_urlsafe(12)


def _plain(value):
    """``value`` with numpy scalars/arrays turned into JSON-able Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{tuple(value.shape)}"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class Job:
    """One explanation request: a model id, a method with its parameters, an input id."""

    def __init__(self, model_id: str, method: str, params: Dict[str, Any], input_id: str, input_name: str,
                 total: Optional[int], group: Optional[str] = None, data: Optional[dict] = None):
        self.id = new_id()
        self.model_id, self.method, self.params = model_id, method, params
        self.input_id, self.input_name, self.group = input_id, input_name, group
        self.data = data  # the input itself, held until the job has run (the input store forgets old ones)
        self.state = "queued"
        self.error: Optional[str] = None
        self.meter = Meter(total)
        self.created = time.time()
        self.started: Optional[float] = None
        self.finished: Optional[float] = None
        self.result: Optional[dict] = None
        self.files: Dict[str, Path] = {}

    def public(self, position: Optional[int] = None) -> dict:
        """The job as the API shows it (no file-system paths: files by kind)."""
        fraction = self.meter.fraction()
        if self.state == "done":
            fraction = 1.0
        return {
            "id": self.id, "model": self.model_id, "method": self.method, "params": _plain(self.params),
            "input": self.input_id, "input_name": self.input_name, "group": self.group, "state": self.state,
            "error": self.error, "queue_position": position,
            "progress": {"done": self.meter.done, "total": self.meter.total, "fraction": fraction},
            "created": self.created, "started": self.started, "finished": self.finished,
            "seconds": (self.finished or time.time()) - self.started if self.started else None,
            "result": self.result, "files": sorted(self.files),
        }


class JobManager:
    """The queue and the worker thread. ``models``: ``{id: ModelEntry}``; ``inputs``: the input
    store (``get(id) -> dict``); results are written under ``work_dir/<job id>/``; at most
    ``max_runs`` finished runs are kept (the oldest are deleted with their files)."""

    def __init__(self, models, inputs, work_dir, max_runs: int = 200):
        self.models, self.inputs, self.work_dir = models, inputs, Path(work_dir)
        self.max_runs = int(max_runs)
        self._jobs: "OrderedDict[str, Job]" = OrderedDict()
        self._queue: deque = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._worker: Optional[threading.Thread] = None

    # -- the API side ------------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is closed")
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._trim()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="paddlex-interpret-gui-worker", daemon=True)
                self._worker.start()
            self._wake.notify()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None:
            raise UnknownJob(job_id)
        return job

    def public(self, job: Job) -> dict:
        with self._lock:
            position = self._queue.index(job.id) + 1 if job.id in self._queue else None
        return job.public(position)

    def list(self) -> List[dict]:
        """Every run since the server started (newest first)."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [self.public(j) for j in reversed(jobs)]

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, a running one at its model's next batch; a finished one stays."""
        job = self.get(job_id)
        with self._lock:
            if job.state == "queued":
                self._queue.remove(job.id)
                job.state, job.finished, job.data = "cancelled", time.time(), None
            elif job.state == "running":
                job.meter.cancel()
        return job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job has finished (for scripts and tests); returns it."""
        job = self.get(job_id)
        end = time.time() + timeout
        while job.state in ("queued", "running") and time.time() < end:
            time.sleep(0.02)
        return job

    def close(self, timeout: float = 10.0) -> None:
        """Cancel everything and stop the worker."""
        with self._lock:
            self._closed = True
            for job_id in list(self._queue):
                job = self._jobs[job_id]
                job.state, job.finished = "cancelled", time.time()
            self._queue.clear()
            for job in self._jobs.values():
                if job.state == "running":
                    job.meter.cancel()
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in ("done", "failed", "cancelled")]
        for job in finished[:max(0, len(self._jobs) - self.max_runs)]:
            self._jobs.pop(job.id, None)
            shutil.rmtree(self.work_dir / job.id, ignore_errors=True)

    # -- the worker ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._jobs[self._queue.popleft()]
                job.state, job.started = "running", time.time()
            try:
                self._run(job)
            except JobCancelled:
                self._end(job, "cancelled")
            except Exception as exc:  # the job fails, the server goes on
                message = f"{type(exc).__name__}: {exc}"
                self._end(job, "failed", message[:_MAX_ERROR])
            else:
                self._end(job, "done")

    def _end(self, job: Job, state: str, error: Optional[str] = None) -> None:
        job.data = None
        if state != "done":
            shutil.rmtree(self.work_dir / job.id, ignore_errors=True)
            job.files, job.result = {}, None
        with self._lock:
            job.state, job.error, job.finished = state, error, time.time()

    def _run(self, job: Job) -> None:
        from .. import interpret
        from ..engine import get_method

        entry = self.models[job.model_id]
        spec = get_method(job.method)
        data = job.data if job.data is not None else self.inputs.get(job.input_id)
        function = getattr(interpret, spec.function)
        takes = inspect.signature(function).parameters
        out_dir = self.work_dir / job.id
        out_dir.mkdir(parents=True, exist_ok=False)
        kwargs = dict(job.params)
        if "progress" in takes:
            kwargs["progress"] = False
        if "save_dir" in takes:
            kwargs["save_dir"] = str(out_dir)
        model = observed(entry.classifier, job.meter)
        top = None
        if entry.kind == "image":  # one prediction, counted in the progress like the method's own
            top = [{"index": i, "label": name, "probability": p}
                   for i, name, p in model.top_classes(model.image_as_explained(data["array"]),
                                                       k=min(5, entry.num_classes or 5))]
        source = data["array"] if entry.kind == "image" else data["text"]
        explanation = function(source, model, **kwargs)
        job.meter.check()
        files: Dict[str, Path] = {}
        figure = getattr(explanation, "figure_path", None)
        if figure:
            files["png"] = Path(figure)
        page = getattr(explanation, "html_path", None)
        if page:
            files["html"] = Path(page)
        save = getattr(explanation, "save", None)
        if callable(save):
            files["npz"] = Path(save(out_dir / "explanation.npz"))
        job.result = _summary(explanation, top)
        if "png" in files and "html" not in files:
            files["html"] = _report_page(job, files["png"], out_dir / "report.html")
        job.files = files


def _summary(explanation, top) -> dict:
    """Target, label, probability (and the top classes / tokens) of an explanation, JSON-able."""
    target = getattr(explanation, "target", None)
    if target is None and getattr(explanation, "targets", None):
        target = explanation.targets[0]
    label = probability = None
    if target is not None:
        names = getattr(explanation, "label_names", None)
        label = names.get(target) if isinstance(names, dict) else getattr(explanation, "label_name", None)
        probs = getattr(explanation, "probabilities", None)
        if isinstance(probs, dict):
            probability = probs.get(target)
        elif probs is not None and np.ndim(probs) == 1:
            probability = probs[target]
        else:
            probability = getattr(explanation, "probability", None)
    out = {"target": _plain(target), "label": None if label is None else str(label),
           "probability": _plain(probability), "top_classes": _plain(top)}
    tokens = getattr(explanation, "top_tokens", None)
    if callable(tokens):
        try:
            out["tokens"] = [{"token": str(t.token), "weight": float(t.weight)} for t in tokens(k=10)]
        except Exception:  # not every explanation lists tokens
            pass
    params = getattr(explanation, "params", None)
    if isinstance(params, dict):
        out["params"] = _plain(params)
    return out


def _report_page(job: Job, png: Path, path: Path) -> Path:
    """A self-contained HTML page: the figure (inline) and what was explained; every text escaped."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    result = job.result or {}
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, ensure_ascii=False))}</td></tr>"
                   for k, v in sorted((result.get("params") or job.params).items()))
    title = f"{job.method} - {result.get('label')}"
    text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>model {html.escape(job.model_id)}, input "
            f"{html.escape(job.input_name)}, class {html.escape(str(result.get('target')))}, probability "
            f"{html.escape(str(result.get('probability')))}</p>"
            f"<img alt='figure' src='data:image/png;base64,{data}' style='max-width:100%'>"
            f"<table>{rows}</table></body></html>")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
