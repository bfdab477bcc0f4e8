"""What one item of a job does. A task is plain data (it travels to workers); ``run(classifier,
payload)`` executes in the worker and returns bytes and numbers only; the driver writes the files
(:mod:`.job`), so workers need no shared file system and never write into ``save_dir``.

* :class:`ExplainTask`: one method of the registry on one image -> its figure + ``.npz``.
* :class:`SweepTask`: several methods x metrics on one image -> a row of scores.
* :class:`NormLimeTask`: the per-image part of NormLIME's global weights (predicted class and the
  clusters of its superpixels; LIME contributions for ``'lime_average'``).
"""
from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ["ExplainTask", "SweepTask", "NormLimeTask", "run_payload", "supported_methods"]

#: free-function parameters the job sets itself
_RESERVED = ("img_file", "model", "models", "save_dir", "random_state", "save_figure", "channel_order")


def supported_methods() -> list:
    """Image methods a batch job can run: every image method of the registry that takes one model."""
    from ..engine import available

    return [s.name for s in available(explains="image") if s.name != "consensus"]


def _function(method: str):
    from .. import interpret
    from ..engine import get_method

    valid = supported_methods()
    if method not in valid:
        raise ValueError(f"method must be one of {valid} (image methods of one model), got {method!r}")
    return getattr(interpret, get_method(method).function)


def _check_params(method: str, params: Dict[str, Any], argument: str) -> None:
    signature = inspect.signature(_function(method))
    taken = [n for n in params if n in _RESERVED]
    if taken:
        raise TypeError(f"{argument} of {method!r} must not set {taken}: the job sets them (the seed comes from "
                        f"seed=..., the folder from save_dir=...)")
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        return
    unknown = sorted(set(params) - set(signature.parameters))
    if unknown:
        valid = sorted(n for n in signature.parameters if n not in _RESERVED)
        raise TypeError(f"{argument}: {method!r} takes no parameters {unknown}; valid: {valid}")


def _jsonable(value):
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def _source(payload: dict, folder: Path):
    """The image as the free functions take it: the file's bytes written back under its own name
    (same decoding as the original file), or the in-memory array."""
    if payload.get("array") is not None:
        return payload["array"]
    path = folder / payload["name"]
    path.write_bytes(payload["data"])
    return str(path)


def _call(method: str, source, classifier, seed: int, save_dir, params: Dict[str, Any]):
    function = _function(method)
    takes = inspect.signature(function).parameters
    kwargs = dict(params)
    if "random_state" in takes:
        kwargs["random_state"] = int(seed)
    if "progress" in takes and "progress" not in kwargs:
        kwargs["progress"] = False
    return function(source, classifier, save_dir=save_dir, **kwargs)


def _explanations(result) -> Dict[str, Any]:
    """The savable parts of a free function's result (NormLIME returns three)."""
    if hasattr(result, "save"):
        return {"explanation": result}
    parts = {name: getattr(result, name) for name in ("lime", "normlime", "combined") if hasattr(result, name)}
    if not parts:
        raise TypeError(f"cannot save a {type(result).__name__}")
    return parts


def _summary(result) -> Dict[str, Any]:
    first = result if hasattr(result, "save") else getattr(result, "lime", result)
    out = {"target": int(getattr(first, "target")), "label": str(getattr(first, "label_name", "")),
           "probability": float(getattr(first, "probability", float("nan")))}
    score = getattr(first, "score", None)
    if isinstance(score, (int, float, np.floating)):
        out["fit_r2"] = float(score)
    return out


@dataclass
class ExplainTask:
    """Explain each image with ``method`` (keyword ``params`` of its free function)."""

    method: str
    params: Dict[str, Any] = field(default_factory=dict)
    kind: str = "explain"

    def __post_init__(self):
        _check_params(self.method, self.params, "method parameters")
        needs_weights = self.method == "normlime" or (self.method == "glime"
                                                      and self.params.get("prior_method", "ridge") != "none")
        if needs_weights:
            path = self.params.get("normlime_weights_file")
            if path is None or not os.path.isfile(os.fspath(path)):
                raise ValueError(
                    f"{self.method} in a batch job needs normlime_weights_file=... naming an existing weights file "
                    f"(got {path!r}): compute the global weights once with interpret.normlime_weights(dataset, "
                    f"model, assets_dir) - every item would otherwise compute them again")
            self.params = {**self.params, "normlime_weights_file": os.path.abspath(os.fspath(path))}

    def describe(self) -> Dict[str, Any]:
        return {"kind": self.kind, "method": self.method, "params": _jsonable(self.params)}

    def outputs(self, key: str) -> Dict[str, str]:
        """Output files of item ``key``, relative to ``save_dir``."""
        from ..engine import get_method

        names = {"figure": f"{key}.{self.method}.png", "thumbnail": f"thumbs/{key}.{self.method}.jpg"}
        if get_method(self.method).figure == "normlime":
            names.update({part: f"{key}.{self.method}.{part}.npz" for part in ("lime", "normlime", "combined")})
        else:
            names["explanation"] = f"{key}.{self.method}.npz"
        return names

    def setup(self):
        return None

    def run(self, classifier, payload: dict, state=None) -> dict:
        folder = Path(tempfile.mkdtemp(prefix="pxi-batch-"))
        try:
            source = _source(payload, folder)
            result = _call(self.method, source, classifier, payload["seed"], str(folder / "out"), self.params)
            files = {"figure": Path(result.figure_path).read_bytes()}
            for role, explanation in _explanations(result).items():
                try:
                    explanation.figure_path = payload["paths"]["figure"]
                except AttributeError:
                    pass
                files[role] = Path(explanation.save(folder / f"{role}.npz")).read_bytes()
            return {"files": files, "summary": _summary(result)}
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class SweepTask:
    """Explain each image with every method of ``methods`` and score each explanation with every
    metric of ``metrics`` (``interpret.evaluate``)."""

    methods: Sequence[str]
    metrics: Sequence[str]
    method_params: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    metric_params: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    batch_size: int = 50
    kind: str = "sweep"

    def __post_init__(self):
        from ..evaluate import metric_names

        self.methods, self.metrics = list(self.methods), list(self.metrics)
        if not self.methods or not self.metrics:
            raise ValueError("methods and metrics must each name at least one")
        for m in self.methods:
            _check_params(m, self.method_params.get(m, {}), f"method_params[{m!r}]")
        unknown = sorted(set(self.method_params) - set(self.methods))
        if unknown:
            raise ValueError(f"method_params names methods not in methods: {unknown}")
        valid = metric_names()
        bad = [m for m in self.metrics if m not in valid]
        if bad:
            raise ValueError(f"unknown metrics {bad}; choose from {valid}")

    def describe(self) -> Dict[str, Any]:
        return {"kind": self.kind, "methods": self.methods, "metrics": self.metrics,
                "method_params": _jsonable(self.method_params), "metric_params": _jsonable(self.metric_params),
                "batch_size": self.batch_size}

    def outputs(self, key: str) -> Dict[str, str]:
        return {}

    def setup(self):
        return None

    def run(self, classifier, payload: dict, state=None) -> dict:
        from .. import interpret

        folder = Path(tempfile.mkdtemp(prefix="pxi-sweep-"))
        try:
            source = _source(payload, folder)
            scores: Dict[str, Dict[str, float]] = {}
            summary = {}
            for method in self.methods:
                explanation = _call(method, source, classifier, payload["seed"], None,
                                    self.method_params.get(method, {}))
                report = interpret.evaluate(explanation, classifier, self.metrics, metric_params=self.metric_params,
                                            batch_size=self.batch_size)
                scores[method] = {name: float(r.score) for name, r in report.items()}
                summary = summary or _summary(explanation)
            return {"files": {}, "summary": summary, "result": {"scores": scores}}
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class NormLimeTask:
    """The per-image part of :func:`~paddlex_interpret.engine.lime.normlime_dataset.compute_global_weights`
    (same arithmetic; the driver aggregates in dataset order, as the serial function does)."""

    assets_dir: str
    algorithm: str = "paddlex"
    lime_params: Dict[str, Any] = field(default_factory=dict)
    random_state: int = 0
    kind: str = "normlime"

    def __post_init__(self):
        from ..engine.lime.normlime_dataset import ALGORITHMS

        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.lime_params and self.algorithm != "lime_average":
            raise ValueError("lime_params are only used by algorithm='lime_average'")
        if not isinstance(self.assets_dir, (str, os.PathLike)) or not os.path.isdir(self.assets_dir):
            raise FileNotFoundError(f"assets_dir must be a prior asset folder, got {self.assets_dir!r}")
        self.assets_dir = os.path.abspath(os.fspath(self.assets_dir))

    def describe(self) -> Dict[str, Any]:
        return {"kind": self.kind, "assets_dir": self.assets_dir, "algorithm": self.algorithm,
                "lime_params": _jsonable(self.lime_params), "random_state": self.random_state}

    def outputs(self, key: str) -> Dict[str, str]:
        return {}

    def setup(self):
        from ..engine.lime.global_weights import centres_fingerprint
        from ..priors.features import load_prior

        stem, centres = load_prior(self.assets_dir)
        return {"stem": stem, "centres": centres, "centres_sha256": centres_fingerprint(centres)}

    def run(self, classifier, payload: dict, state=None) -> dict:
        from ..data import load_image
        from ..engine.lime.global_weights import label_list
        from ..engine.lime.lime_image import LimeImage
        from ..priors.features import grid_segments, superpixel_clusters

        stem, centres = state["stem"], state["centres"]
        folder = Path(tempfile.mkdtemp(prefix="pxi-normlime-"))
        try:
            raw = load_image(_source(payload, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        image = classifier.image_as_explained(raw)
        info = {"num_classes": int(classifier.num_classes), "labels": list(label_list(classifier)),
                "centres_sha256": state["centres_sha256"], "k": int(np.asarray(centres).shape[0])}
        if self.algorithm == "paddlex":
            pred = int(np.argmax(classifier.predict_proba(image[None], batch_size=1)[0]))
            clusters = superpixel_clusters(stem, centres, image, grid_segments(image.shape[:2]))
            result = {"target": pred, "clusters": [int(c) for c in clusters]}
        else:
            params = {"progress": False, **dict(self.lime_params), "random_state": self.random_state}
            explainer = LimeImage(classifier, **params)
            exp = explainer.explain(image, top_k=1)
            t = exp.target
            w = np.asarray(exp.weights[t], dtype=np.float64)
            clusters = superpixel_clusters(stem, centres, exp.image, exp.segments)
            l1 = np.abs(w).sum()
            contrib = w ** 2 / l1 if l1 > 0 else np.zeros_like(w)
            result = {"target": int(t), "clusters": [int(c) for c in clusters],
                      "contrib": [float(c) for c in contrib]}
            info["lime_params"] = _jsonable(explainer.params(self.random_state))
        return {"files": {}, "summary": {"target": result["target"]}, "result": {**result, **info}}


def run_payload(classifier, task, payload: dict, state=None, worker: str = "main") -> dict:
    """``task.run`` on one payload; an exception becomes a 'failed' result with its message (the job
    goes on). ``KeyboardInterrupt`` is not caught."""
    start = time.perf_counter()
    try:
        out = task.run(classifier, payload, state)
        out.update(status="done", error=None)
    except Exception as exc:  # one bad image must not stop the job
        message = f"{type(exc).__name__}: {exc}"
        out = {"status": "failed", "error": message, "files": {}, "summary": {},
               "traceback": "".join(traceback.format_exception_only(type(exc), exc)).strip()}
    out.update(key=payload["key"], seconds=round(time.perf_counter() - start, 4), worker=worker)
    return out
