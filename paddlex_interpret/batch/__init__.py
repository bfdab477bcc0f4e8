"""Dataset-scale jobs: explain a folder, sweep methods x metrics, NormLIME global weights - on this
process, local worker processes or Ray, resumable.

A job turns its inputs (:mod:`.inputs`) into items with stable keys, derives each item's seed from
the job seed and the key (:func:`.inputs.item_seed`), sends the items to a backend
(:mod:`.backends`) whose workers load the model once from a :class:`ModelSpec`, and writes every
output atomically from this process, recording each item in ``save_dir/manifest.jsonl``
(:mod:`.manifest`). A re-run skips the items whose outputs verify and redoes the rest. See
``docs/batch.md``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

from .backends import BACKENDS, WorkerStartError
from .inputs import item_seed
from .job import JobResult, run_job
from .spec import ModelSpec
from .tasks import ExplainTask, NormLimeTask, SweepTask, supported_methods

__all__ = ["explain_folder", "evaluate_folder", "normlime_weights", "ModelSpec", "JobResult", "BACKENDS",
           "WorkerStartError", "item_seed", "supported_methods"]


def explain_folder(inputs, model, method: str = "lime", save_dir="./batch_output", *, backend: str = "serial",
                   workers: Optional[int] = None, seed: int = 0, threads: Optional[int] = None,
                   model_overrides: Optional[Dict[str, Any]] = None, progress: bool = True,
                   callback: Optional[Callable[[dict], None]] = None, max_in_flight: Optional[int] = None,
                   **method_params) -> JobResult:
    """Explain every image of ``inputs`` with ``method``; see :func:`paddlex_interpret.interpret.explain_folder`."""
    task = ExplainTask(method, dict(method_params))

    def finish(manifest, result):
        from .gallery import write_index

        result.index_csv, result.gallery = write_index(result.records, result.save_dir,
                                                       title=f"{method} explanations")

    return run_job(inputs, model, task, save_dir, backend=backend, workers=workers, seed=seed, threads=threads,
                   model_overrides=model_overrides, progress=progress, callback=callback,
                   max_in_flight=max_in_flight, description=f"explain ({method}, {backend})", finish=finish)


def evaluate_folder(inputs, model, methods: Sequence[str] = ("lime", "occlusion"),
                    metrics: Sequence[str] = ("deletion", "insertion"), save_dir="./sweep_output", *,
                    method_params: Optional[Dict[str, Dict[str, Any]]] = None,
                    metric_params: Optional[Dict[str, Dict[str, Any]]] = None, batch_size: int = 50,
                    backend: str = "serial", workers: Optional[int] = None, seed: int = 0,
                    threads: Optional[int] = None, model_overrides: Optional[Dict[str, Any]] = None,
                    progress: bool = True, callback=None, max_in_flight: Optional[int] = None) -> JobResult:
    """Score ``methods`` x ``metrics`` over ``inputs``; see :func:`paddlex_interpret.interpret.evaluate_folder`."""
    task = SweepTask(list(methods), list(metrics), dict(method_params or {}), dict(metric_params or {}), batch_size)

    def finish(manifest, result):
        from .sweep import write_sweep

        result.extra.update(write_sweep(result.records, result.save_dir, task.methods, task.metrics))

    return run_job(inputs, model, task, save_dir, backend=backend, workers=workers, seed=seed, threads=threads,
                   model_overrides=model_overrides, progress=progress, callback=callback,
                   max_in_flight=max_in_flight, description=f"sweep ({backend})", finish=finish)


def normlime_weights(inputs, model, assets_dir, save_dir="./normlime_output", *, algorithm: str = "paddlex",
                     lime_params: Optional[Dict[str, Any]] = None, random_state: int = 0,
                     weights_file=None, backend: str = "serial", workers: Optional[int] = None,
                     threads: Optional[int] = None, model_overrides: Optional[Dict[str, Any]] = None,
                     progress: bool = True, callback=None, max_in_flight: Optional[int] = None):
    """NormLIME global weights over ``inputs``; see :func:`paddlex_interpret.interpret.normlime_weights`.

    Returns ``(GlobalWeights, JobResult)``; the weights are also written to ``weights_file``."""
    from ..engine.lime.global_weights import GlobalWeights
    from ..engine.lime.normlime_dataset import DEFAULT_WEIGHTS_NAME, GRID_SIZE, _paddlex_weights

    if isinstance(random_state, bool) or not isinstance(random_state, int) or random_state < 0:
        raise ValueError(f"random_state must be an int >= 0, got {random_state!r}")
    task = NormLimeTask(assets_dir, algorithm, dict(lime_params or {}), random_state)
    job = run_job(inputs, model, task, save_dir, backend=backend, workers=workers, seed=random_state,
                  threads=threads, model_overrides=model_overrides, progress=progress, callback=callback,
                  max_in_flight=max_in_flight, description=f"NormLIME ({algorithm}, {backend})")
    done = [r for r in job.records if r.get("status") == "done"]
    if not done:
        raise ValueError(f"no image of the inputs could be used ({job.failed} failed; see '{job.manifest}')")
    info = done[0]["result"]
    num_classes, k = info["num_classes"], info["k"]
    counts = np.zeros(num_classes, dtype=np.int64)
    params: Dict[str, Any] = {"random_state": random_state}
    if algorithm == "paddlex":
        xs, ys = [], []
        for r in done:  # dataset order, as the serial job
            x = np.zeros(k)
            x[r["result"]["clusters"]] = 1.0
            xs.append(x)
            ys.append(r["result"]["target"])
            counts[r["result"]["target"]] += 1
        weights = _paddlex_weights(np.asarray(xs), np.asarray(ys), num_classes, random_state)
        params.update({"grid": GRID_SIZE, "temperature": 10.0})
    else:
        sums, occurrences = np.zeros((num_classes, k)), np.zeros((num_classes, k))
        for r in done:
            t, clusters = r["result"]["target"], np.asarray(r["result"]["clusters"], dtype=np.int64)
            np.add.at(sums[t], clusters, np.asarray(r["result"]["contrib"], dtype=np.float64))
            np.add.at(occurrences[t], clusters, 1.0)
            counts[t] += 1
        means = np.divide(sums, occurrences, out=np.zeros_like(sums), where=occurrences > 0)
        totals = means.sum(axis=1, keepdims=True)
        weights = np.where(totals > 0, means / np.where(totals > 0, totals, 1.0), 1.0 / k)
        params["lime_params"] = info["lime_params"]
    result = GlobalWeights(weights=weights, algorithm=algorithm, label_names=list(info["labels"]),
                           centres_sha256=info["centres_sha256"], num_images=int(counts.sum()), class_counts=counts,
                           params=params)
    path = Path(weights_file) if weights_file is not None else Path(job.save_dir) / DEFAULT_WEIGHTS_NAME
    job.extra["weights_file"] = result.save(path)
    return result, job
