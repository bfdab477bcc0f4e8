"""Paddle Inference (oneDNN on CPU) for black-box forwards: exported models, and a fast path for
dygraph models whose perturbation methods run thousands of forwards.

Paddle's C++ side prints straight to the process's file descriptors while a model is exported
(``paddle.jit.save``: glog warnings such as ``W1201 ... eager_utils.cc:3584] Paddle static
graph(PIR) not support input out tensor``), while a predictor is built (one ``--- Running PIR
pass [...]`` banner per optimisation pass, ``I1201 ... print_statistics.cc] --- detected [1]
subgraphs!``) and at a predictor's first run (``ReduceMeanCheckIfOneDNNSupport`` on stdout). Those
lines say nothing to a user of this package, so they are kept off the terminal: the predictor's
config gets ``disable_glog_info()``, and the export, the creation and the first run happen inside
:func:`quiet_paddle_logs`, which points descriptors 1 and 2 at temporary files, restores them, and
passes every other captured line on (Python warnings and prints included; everything if the block
raised, so nothing that explains an error is lost). No global setting is changed.

Set the environment variable ``PADDLEX_INTERPRET_VERBOSE=1`` (read each time) to see Paddle's
logs as Paddle prints them.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from typing import Iterator, Optional, Tuple

import numpy as np

__all__ = ["InferenceRunner", "find_static_model", "StaticModelError", "quiet_paddle_logs", "VERBOSE_ENV"]

#: Environment variable that, set to 1 / true / yes / on, lets Paddle's C++ logs through.
VERBOSE_ENV = "PADDLEX_INTERPRET_VERBOSE"

# glog's prefix "<I|W|E|F>mmdd hh:mm:ss.uuuuuu thread file:line]", Paddle Inference's pass banner
# (printed with ANSI colours) and the bare name oneDNN kernel checks print at a predictor's first run
# ("ReduceMeanCheckIfOneDNNSupport", Paddle 3.3).
_NATIVE_LOG_LINE = re.compile(
    r"^(?:\x1b\[[0-9;]*m)*(?:[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]]*\]|--- Running (?:PIR |IR )?pass"
    r"|\w+CheckIfOneDNNSupport\s*$)")


def verbose_logs() -> bool:
    """Whether ``PADDLEX_INTERPRET_VERBOSE`` asks for Paddle's own logs."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _flush_all() -> None:
    """Flush Python's and C's stdio buffers (C++ ``std::cout`` writes through C's stdout)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def quiet_paddle_logs() -> Iterator[None]:
    """Keep Paddle's C++ log lines written to file descriptors 1 and 2 inside the block off the terminal.

    Both descriptors point at temporary files during the block. Afterwards every captured line
    that is not one of Paddle's (glog lines, PIR pass banners, oneDNN kernel-check names) is
    written to ``sys.stdout`` / ``sys.stderr``, in order per stream; if the block raises, all of
    it is, so nothing that explains an error is lost. The descriptors are restored on exit.
    No-op when ``PADDLEX_INTERPRET_VERBOSE=1`` or when the descriptors cannot be duplicated. Not
    meant for concurrent use: what other threads write to the descriptors during the block comes
    out when it ends (Paddle's lines dropped).
    """
    if verbose_logs():
        yield
        return
    _flush_all()
    saved, captures = {}, {}
    try:
        for fd in (1, 2):
            saved[fd] = os.dup(fd)
            captures[fd] = tempfile.TemporaryFile()
            os.dup2(captures[fd].fileno(), fd)
        usable = True
    except (OSError, ValueError):  # no usable descriptors (embedded interpreters, closed streams)
        usable = False
    if not usable:
        for fd, copy in saved.items():
            with contextlib.suppress(OSError):
                os.dup2(copy, fd)
            os.close(copy)
        for capture in captures.values():
            capture.close()
        yield
        return
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _flush_all()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        for fd, capture in captures.items():
            capture.seek(0)
            lines = capture.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            capture.close()
            kept = lines if failed else [line for line in lines if not _NATIVE_LOG_LINE.match(line)]
            stream = sys.stdout if fd == 1 else sys.stderr
            if kept and stream is not None:
                with contextlib.suppress(Exception):
                    stream.write("".join(kept))
                    stream.flush()


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


def gpu_index(device) -> Optional[int]:
    """None for ``'cpu'``, the card index for ``'gpu'`` / ``'gpu:N'``; errors name what is valid and
    say when this Paddle has no CUDA."""
    import paddle

    text = str(device).strip().lower()
    if text == "cpu":
        return None
    head, _, index = text.partition(":")
    if head != "gpu" or (index and not index.isdigit()):
        raise ValueError(f"device must be 'cpu', 'gpu' or 'gpu:N', got {device!r}")
    if not paddle.is_compiled_with_cuda():
        raise StaticModelError(f"device={device!r} needs a CUDA build of Paddle (paddlepaddle-gpu); this Paddle "
                               "is CPU-only: use device='cpu'")
    return int(index or 0)


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
    device : str, default 'cpu'
        ``'cpu'``, or ``'gpu'`` / ``'gpu:N'`` for Paddle Inference's GPU path on card N (needs a
        CUDA build of Paddle; inputs and outputs still travel as numpy arrays).
    """

    def __init__(self, model_file: str, params_file: str, threads: Optional[int] = None, use_mkldnn: bool = True,
                 device: str = "cpu"):
        import paddle.inference as pinf

        gpu = gpu_index(device)
        for name, f in (("model_file", model_file), ("params_file", params_file)):
            if not os.path.isfile(f):
                raise StaticModelError(f"{name} {f!r} does not exist")
        config = pinf.Config(model_file, params_file)
        if gpu is None:
            config.disable_gpu()
            if use_mkldnn:
                config.enable_mkldnn()
        else:
            config.enable_use_gpu(256, gpu)  # initial pool in MB; Paddle grows it as needed
        self.device = "cpu" if gpu is None else f"gpu:{gpu}"
        config.set_cpu_math_library_num_threads(int(threads or os.cpu_count() or 1))
        if not verbose_logs():
            config.disable_glog_info()
        config.switch_ir_optim(True)
        try:
            with quiet_paddle_logs():
                self._predictor = pinf.create_predictor(config)
        except Exception as exc:  # Paddle raises its own error types; name the files instead
            raise StaticModelError(f"Paddle Inference could not load {model_file!r}: {exc}") from exc
        names = self._predictor.get_input_names()
        if len(names) != 1:
            raise StaticModelError(
                f"{model_file!r} takes {len(names)} inputs {names}; an image classifier takes one image batch"
            )
        self.model_file = model_file
        self._first_run = True
        self._input = self._predictor.get_input_handle(names[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        self._input.reshape(list(x.shape))
        self._input.copy_from_cpu(x)
        if self._first_run:  # oneDNN kernel checks print to stdout once per predictor
            with quiet_paddle_logs():
                self._predictor.run()
            self._first_run = False
        else:
            self._predictor.run()
        return self._output.copy_to_cpu()

    @classmethod
    def from_layer(cls, layer, example: np.ndarray, threads: Optional[int] = None,
                   device: str = "cpu") -> "InferenceRunner":
        """Export a dygraph ``layer`` (in eval mode, batch dimension free) and load it.

        The export goes to a temporary directory that is deleted once the predictor holds the
        program; the layer's modes and parameters are left as they were. Paddle's C++ logs of the
        export are kept off the terminal (see the module docstring; ``PADDLEX_INTERPRET_VERBOSE=1``
        shows them).
        """
        import paddle

        from .base import eval_mode

        spec = [paddle.static.InputSpec([None, *example.shape[1:]], "float32", "x")]
        tmp = tempfile.mkdtemp(prefix="paddlex_interpret_export_")
        try:
            prefix = os.path.join(tmp, "model")
            with eval_mode(layer), quiet_paddle_logs():
                paddle.jit.save(layer, prefix, input_spec=spec)
            return cls(*find_static_model(prefix), threads=threads, device=device)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

