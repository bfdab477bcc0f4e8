"""Paddle Inference (oneDNN on CPU) for black-box forwards: exported models, and a fast path for
dygraph models whose perturbation methods run thousands of forwards."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional, Tuple

import numpy as np

__all__ = ["InferenceRunner", "find_static_model", "StaticModelError"]


class StaticModelError(ValueError):
    """A static (exported) model could not be found, loaded or run."""


def find_static_model(path: str) -> Tuple[str, str]:
    """Locate ``(model_file, params_file)`` of an exported model.

    ``path`` is a directory (``inference.json`` / ``inference.pdmodel`` or a single
    ``*.json``/``*.pdmodel`` next to its ``.pdiparams``), a model file, or the prefix given to
    ``paddle.jit.save``. The PIR ``.json`` format is preferred when both exist.
    """
    path = os.fspath(path)
    candidates = []
    if os.path.isdir(path):
        for stem in ("inference", "model"):
            candidates += [os.path.join(path, stem + ext) for ext in (".json", ".pdmodel")]
        others = sorted(
            os.path.join(path, f) for f in os.listdir(path) if f.endswith((".json", ".pdmodel"))
        )
        candidates += [f for f in others if os.path.exists(os.path.splitext(f)[0] + ".pdiparams")]
    elif path.endswith((".json", ".pdmodel")):
        candidates.append(path)
    else:
        candidates += [path + ".json", path + ".pdmodel"]
    for model_file in candidates:
        params_file = os.path.splitext(model_file)[0] + ".pdiparams"
        if os.path.isfile(model_file) and os.path.isfile(params_file):
            return model_file, params_file
    raise StaticModelError(
        f"no exported Paddle model at {path!r}: expected <prefix>.json or <prefix>.pdmodel next to "
        "<prefix>.pdiparams (the files paddle.jit.save writes), or a directory holding them"
    )


class InferenceRunner:
    """A Paddle Inference predictor on one float32 input and the first output.

    Parameters
    ----------
    model_file, params_file : str
        The exported program (PIR ``.json`` or legacy ``.pdmodel``) and its ``.pdiparams``.
    threads : int, optional
        CPU math threads; default: the number of CPUs.
    use_mkldnn : bool, default True
        Use oneDNN kernels on CPU (several times faster than dygraph for conv nets).
    """

    def __init__(self, model_file: str, params_file: str, threads: Optional[int] = None, use_mkldnn: bool = True):
        import paddle.inference as pinf

        for name, f in (("model_file", model_file), ("params_file", params_file)):
            if not os.path.isfile(f):
                raise StaticModelError(f"{name} {f!r} does not exist")
        config = pinf.Config(model_file, params_file)
        config.disable_gpu()
        if use_mkldnn:
            config.enable_mkldnn()
        config.set_cpu_math_library_num_threads(int(threads or os.cpu_count() or 1))
        config.disable_glog_info()
        config.switch_ir_optim(True)
        try:
            self._predictor = pinf.create_predictor(config)
        except Exception as exc:  # Paddle raises its own error types; name the files instead
            raise StaticModelError(f"Paddle Inference could not load {model_file!r}: {exc}") from exc
        names = self._predictor.get_input_names()
        if len(names) != 1:
            raise StaticModelError(
                f"{model_file!r} takes {len(names)} inputs {names}; an image classifier takes one image batch"
            )
        self.model_file = model_file
        self._input = self._predictor.get_input_handle(names[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        self._input.reshape(list(x.shape))
        self._input.copy_from_cpu(x)
        self._predictor.run()
        return self._output.copy_to_cpu()

    @classmethod
    def from_layer(cls, layer, example: np.ndarray, threads: Optional[int] = None) -> "InferenceRunner":
        """Export a dygraph ``layer`` (in eval mode, batch dimension free) and load it.

        The export goes to a temporary directory that is deleted once the predictor holds the
        program; the layer's modes and parameters are left as they were.
        """
        import paddle

        from .base import eval_mode

        spec = [paddle.static.InputSpec([None, *example.shape[1:]], "float32", "x")]
        tmp = tempfile.mkdtemp(prefix="paddlex_interpret_export_")
        try:
            prefix = os.path.join(tmp, "model")
            with eval_mode(layer):
                paddle.jit.save(layer, prefix, input_spec=spec)
            return cls(*find_static_model(prefix), threads=threads)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

