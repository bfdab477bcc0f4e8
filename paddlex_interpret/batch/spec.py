"""What a worker needs to load the model itself: a :class:`ModelSpec` (a path or ``'demo'`` plus
plain-data adapter overrides). Model objects do not travel between processes or machines; a spec
does, and each worker loads it once."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

__all__ = ["ModelSpec", "as_model_spec", "THREAD_VARIABLES", "thread_environment"]

#: the variables that fix the CPU threads of Paddle, MKL/oneDNN, OpenBLAS and NumExpr in a worker;
#: they must be set before Paddle is imported there
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")

_PLAIN = (str, int, float, bool, type(None))
_TRAVELLING_OVERRIDES = ("labels", "output", "preprocess", "runner", "threads", "weights")


def thread_environment(threads: int) -> Dict[str, str]:
    """The environment variables that give a worker ``threads`` CPU threads."""
    return {name: str(int(threads)) for name in THREAD_VARIABLES}


def _plain(value) -> bool:
    """Plain data (travels by value and is recorded in the manifest as it is)."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _check_override(name: str, value) -> None:
    from ..data import ImagePreprocess

    if isinstance(value, ImagePreprocess):
        return
    if isinstance(value, os.PathLike):
        return
    if not _plain(value):
        raise TypeError(f"model override {name!r} is a {type(value).__name__}, which cannot travel to a worker; "
                        f"give plain data (str, numbers, lists, an ImagePreprocess, a path)")


@dataclass(frozen=True)
class ModelSpec:
    """A model that a worker loads for itself.

    Parameters
    ----------
    model : str, os.PathLike or (config, weights) tuple
        ``'demo'`` (the demo's ImageNet EfficientNet-Lite0), a PaddleX model directory (with
        ``inference.yml``), an exported model (``paddle.jit.save`` prefix; give ``preprocess``), a
        PaddleClas config YAML (give ``weights``), or a ``(config.yaml, weights.pdparams)`` pair:
        what :func:`paddlex_interpret.models.as_classifier` accepts as a path. Relative paths are
        made absolute when the spec is made.
    overrides : dict, default {}
        Adapter arguments that are plain data: ``labels`` (list of str), ``output``, ``preprocess``
        (an :class:`~paddlex_interpret.data.ImagePreprocess`), ``runner``, ``threads``, ``weights``.
    """

    model: Union[str, Tuple[str, str]]
    overrides: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        model = self.model
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        if isinstance(model, tuple):
            if len(model) != 2 or not all(isinstance(p, (str, os.PathLike)) for p in model):
                raise TypeError(f"a ModelSpec tuple must be (config.yaml, weights.pdparams), got {model!r}")
            model = tuple(os.path.abspath(os.fspath(p)) for p in model)
        elif isinstance(model, str):
            if model != "demo":
                model = os.path.abspath(model)
        else:
            raise TypeError(f"ModelSpec.model must be 'demo', a path or a (config, weights) pair; got "
                            f"{type(model).__name__}")
        object.__setattr__(self, "model", model)
        overrides = dict(self.overrides or {})
        unknown = sorted(set(overrides) - set(_TRAVELLING_OVERRIDES))
        if unknown:
            raise TypeError(f"model overrides {unknown} cannot travel to a worker; valid: {list(_TRAVELLING_OVERRIDES)}")
        for name, value in overrides.items():
            _check_override(name, value)
            if isinstance(value, os.PathLike):
                overrides[name] = os.path.abspath(os.fspath(value))
        if "weights" in overrides and isinstance(overrides["weights"], str):
            overrides["weights"] = os.path.abspath(overrides["weights"])
        if self.model == "demo" and overrides:
            raise TypeError(f"the demo model takes no overrides, got {sorted(overrides)}")
        object.__setattr__(self, "overrides", overrides)

    def load(self, threads: Optional[int] = None):
        """The :class:`~paddlex_interpret.models.Classifier` (loaded now). ``threads`` is passed to
        adapters that take it (Paddle Inference models) unless the overrides set it."""
        if self.model == "demo":
            from .. import demo

            return demo.load_model()
        from ..models import as_classifier

        overrides = dict(self.overrides)
        if threads is not None and "threads" not in overrides and self._takes_threads():
            overrides["threads"] = int(threads)
        return as_classifier(self.model, **overrides)

    def _takes_threads(self) -> bool:
        if not isinstance(self.model, str):
            return False
        if os.path.isdir(self.model) and os.path.isfile(os.path.join(self.model, "inference.yml")):
            return True  # a PaddleX model directory
        return not self.model.endswith((".yaml", ".yml"))  # an exported model

    def describe(self) -> Dict[str, Any]:
        """JSON-ready description (recorded in the manifest: a changed model redoes the job)."""
        overrides = {}
        for name, value in sorted(self.overrides.items()):
            overrides[name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        model = list(self.model) if isinstance(self.model, tuple) else self.model
        return {"model": model, "overrides": overrides, "fingerprint": _model_fingerprint(self.model)}


def _model_fingerprint(model) -> Optional[str]:
    """Sizes and modification times of the model's files: retraining into the same folder changes it."""
    if model == "demo":
        return "demo"
    paths = list(model) if isinstance(model, tuple) else [model]
    parts = []
    for p in paths:
        candidates = [p, p + ".json", p + ".pdmodel", p + ".pdiparams"]
        for c in candidates:
            if os.path.isfile(c):
                st = os.stat(c)
                parts.append(f"{os.path.basename(c)}:{st.st_size}:{int(st.st_mtime)}")
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                c = os.path.join(p, name)
                if os.path.isfile(c):
                    st = os.stat(c)
                    parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
    return ";".join(parts) or None


def as_model_spec(model, overrides: Optional[Dict[str, Any]] = None) -> Optional[ModelSpec]:
    """``model`` as a :class:`ModelSpec`, or None when it is an object (it can then only run serially)."""
    if isinstance(model, ModelSpec):
        if overrides:
            raise TypeError("give the overrides inside the ModelSpec, not next to it")
        return model
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if path != "demo" and not (os.path.exists(path) or os.path.exists(path + ".json")
                                   or os.path.exists(path + ".pdmodel")):
            raise FileNotFoundError(f"model path {path!r} does not exist (give 'demo', a PaddleX model directory, an "
                                    f"exported model or a PaddleClas config)")
        return ModelSpec(path, dict(overrides or {}))
    if isinstance(model, tuple) and len(model) == 2 and all(isinstance(p, (str, os.PathLike)) for p in model):
        return ModelSpec(model, dict(overrides or {}))
    return None
