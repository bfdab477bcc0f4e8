"""PaddleX 3.x models: objects from ``paddlex.create_model(...)`` and PaddleX model directories
(``inference.yml`` + ``inference.json``/``.pdmodel`` + ``.pdiparams``)."""
from __future__ import annotations

import os
import warnings

from .base import check_overrides
from .static_model import StaticClassifier
from .transform_config import preprocess_from_ops

__all__ = ["is_paddlex3_model", "is_paddlex_model_dir", "from_paddlex3_model", "from_paddlex_model_dir",
           "PaddleXModelError"]

CONFIG_FILE = "inference.yml"
_OVERRIDES = ("preprocess", "labels", "output", "network", "weights", "threads")


class PaddleXModelError(ValueError):
    """A PaddleX model (directory) cannot be used as an image classifier."""


def is_paddlex3_model(obj) -> bool:
    """True for ``paddlex.create_model`` results and PaddleX predictors."""
    module = type(obj).__module__ or ""
    if not module.startswith("paddlex."):
        return False
    predictor = getattr(obj, "_predictor", obj)
    return hasattr(predictor, "config") and hasattr(predictor, "model_dir")


def is_paddlex_model_dir(path) -> bool:
    try:
        return os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG_FILE))
    except TypeError:
        return False


def _read_config(model_dir) -> dict:
    import yaml

    path = os.path.join(model_dir, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise PaddleXModelError(f"{path!r} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise PaddleXModelError(f"{path!r} does not hold a mapping")
    return config


def _labels_from(config: dict):
    topk = ((config.get("PostProcess") or {}).get("Topk")) or {}
    labels = topk.get("label_list")
    return [str(x) for x in labels] if labels else None


def _training_weights(model_dir):
    """PaddleX 3 training leaves ``best_model/best_model.pdparams`` beside ``best_model/inference``."""
    parent = os.path.dirname(os.path.abspath(model_dir))
    for candidate in (os.path.join(parent, "best_model.pdparams"), os.path.join(model_dir, "best_model.pdparams")):
        if os.path.isfile(candidate):
            return candidate
    return None


def _training_arch_name(model_dir, model_name):
    """PaddleClas's architecture name for a model PaddleX 3 trained, or None.

    PaddleX writes its own model name into ``inference.yml`` (``Global.model_name: PP-LCNet_x0_25``)
    while PaddleClas calls the architecture ``PPLCNet_x0_25``. A training output folder keeps the
    PaddleClas config it trained with, ``config.yaml``, two levels above ``best_model/inference``
    (also above ``epoch_N/inference`` and ``latest/inference``); its ``Arch.name`` is used when its
    ``Global.pdx_model_name`` is ``model_name`` (so an unrelated ``config.yaml`` is never read as one)."""
    import yaml

    if not model_name:
        return None
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(model_dir))), "config.yaml")
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return None
    sections = [config.get(k) if isinstance(config, dict) else None for k in ("Global", "Arch")]
    if not all(isinstance(x, dict) for x in sections) or sections[0].get("pdx_model_name") != model_name:
        return None
    arch = sections[1].get("name")
    return arch if isinstance(arch, str) and arch else None


def _check_pipeline(config: dict, model_dir):
    ops = (config.get("PreProcess") or {}).get("transform_ops")
    if not ops:
        raise PaddleXModelError(f"{model_dir}: {CONFIG_FILE} has no PreProcess.transform_ops")
    post = config.get("PostProcess") or {}
    if post and "Topk" not in post:
        raise PaddleXModelError(
            f"{model_dir} is a PaddleX {sorted(post)} model, not an image classifier (expected PostProcess.Topk)"
        )
    return ops


def from_paddlex_model_dir(model_dir, **overrides) -> StaticClassifier:
    """Classifier from a PaddleX 3 model directory.

    Black-box forwards run through Paddle Inference. Gradient and layer methods need the dygraph
    network: pass ``network=`` (a ``paddle.nn.Layer``) or ``weights=`` (a ``.pdparams`` for the
    PaddleClas architecture named by ``Global.model_name``); a ``best_model.pdparams`` that PaddleX
    training left next to the directory is picked up when paddleclas is installed. ``Global.model_name``
    is PaddleX's name (``PP-LCNet_x0_25``); inside a training output folder the PaddleClas name
    (``PPLCNet_x0_25``) is read from its ``config.yaml`` (see :func:`_training_arch_name`). An architecture
    exported at another input size than its own (e.g. a ``*_224`` ViT trained at 384: its position
    embeddings have another length) is rebuilt with ``img_size`` taken from the preprocessing (the
    CropImage / ResizeImage size of ``inference.yml``), checked against the exported program's input
    shape when the program fixes one; where it cannot be derived the error says to pass ``network=``.

    Parameters
    ----------
    model_dir : str
        Directory with ``inference.yml`` and the exported model.
    **overrides
        ``preprocess``, ``labels``, ``output``, ``network``, ``weights``, ``threads``.
    """
    check_overrides(overrides, _OVERRIDES, "a PaddleX model")
    model_dir = os.fspath(model_dir)
    config = _read_config(model_dir)
    ops = _check_pipeline(config, model_dir)
    preprocess = overrides.pop("preprocess", None) or preprocess_from_ops(ops, source=f"{model_dir}/{CONFIG_FILE}")
    labels = overrides.pop("labels", None) or _labels_from(config)
    network = overrides.pop("network", None)
    weights = overrides.pop("weights", None)
    explicit_weights = weights is not None
    weights = weights or (None if network is not None else _training_weights(model_dir))
    if network is None and weights is not None:
        name = (config.get("Global") or {}).get("model_name")
        name = _training_arch_name(model_dir, name) or name
        try:
            if not name:
                raise PaddleXModelError(f"{CONFIG_FILE} has no Global.model_name")
            if not labels:
                raise PaddleXModelError("the class count is unknown (no PostProcess.Topk.label_list)")
            network = _build_twin(name, len(labels), weights, preprocess, model_dir)
        except Exception as exc:
            if explicit_weights:
                raise
            warnings.warn(f"{weights} was found but not loaded ({exc}); gradient methods need network=...",
                          stacklevel=2)
    return StaticClassifier(model_dir, preprocess=preprocess, labels=labels, network=network, **overrides)


def _fed_size(preprocess):
    """``(height, width)`` the preprocessing feeds the network (its crop, or its fixed resize), or None."""
    size = getattr(preprocess, "crop_size", None) or getattr(preprocess, "resize_to", None)
    return (int(size[0]), int(size[1])) if size else None


def _program_input_size(model_dir):
    """``(height, width)`` of the exported program's image input when the program fixes it, else None.
    Read from a PIR ``.json`` program (the format Paddle 3 / PaddleX 3 export): its one ``data`` op's
    shape; a legacy ``.pdmodel``, a dynamic size or an unknown layout gives None."""
    import json

    from .inference_runner import find_static_model

    try:
        model_file, _ = find_static_model(model_dir)
        if not model_file.endswith(".json"):
            return None
        with open(model_file, encoding="utf-8") as f:
            program = json.load(f)
        shapes = []
        for region in program["program"]["regions"]:
            for block in region["blocks"]:
                for op in block["ops"]:
                    if str(op.get("#", "")).endswith(".data"):
                        shapes += [a["AT"]["D"] for a in op.get("A", []) if a.get("N") == "shape"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if len(shapes) != 1 or len(shapes[0]) != 4 or min(shapes[0][2:]) <= 0:
        return None
    return int(shapes[0][2]), int(shapes[0][3])


def _build_twin(name, class_num, weights, preprocess, model_dir):
    """The dygraph twin: PaddleClas ``name`` with ``weights``. An architecture built for one input size
    (a ViT's position embeddings) exported at another is rebuilt with ``img_size`` = the size the
    preprocessing of inference.yml feeds (its CropImage / ResizeImage size), checked against the
    exported program's input shape where the program records one. The errors name ``network=``."""
    from .paddleclas import PaddleClasConfigError, build_paddleclas_network

    fed, program = _fed_size(preprocess), _program_input_size(model_dir)
    if fed and program and fed != program:
        raise PaddleXModelError(
            f"{model_dir}: the preprocessing of {CONFIG_FILE} feeds {fed[0]}x{fed[1]} images but the exported "
            f"program takes {program[0]}x{program[1]}; pass preprocess=ImagePreprocess(...) and network=...")
    size, source = (fed, f"{CONFIG_FILE}'s preprocessing") if fed else (program, "the exported program")
    try:
        return build_paddleclas_network(name, class_num, weights)  # the architecture's own input size
    except PaddleClasConfigError as exc:
        first = exc
    if size is None:
        raise PaddleXModelError(
            f"{first}; the input size the model was exported at cannot be derived ({CONFIG_FILE}'s preprocessing "
            "has no CropImage / ResizeImage size and the program fixes none): build the network and pass network=...")
    img_size = size[0] if size[0] == size[1] else size
    try:
        return build_paddleclas_network(name, class_num, weights, img_size=img_size)
    except TypeError as exc:  # the architecture fixes its size (or takes none): the checkpoint is another model's
        raise PaddleXModelError(f"{first}; {name} cannot be built with img_size={img_size!r} ({exc}): build the "
                                "network and pass network=...") from None
    except PaddleClasConfigError as exc:
        raise PaddleXModelError(f"{first}; with img_size={img_size!r} (from {source}) too: "
                                f"{exc}; build the network and pass network=...") from None


def from_paddlex3_model(model, **overrides) -> StaticClassifier:
    """Classifier from ``paddlex.create_model(model_name=..., model_dir=...)`` (or its predictor):
    the same model directory, preprocessing and labels PaddleX uses."""
    predictor = getattr(model, "_predictor", model)
    model_dir = getattr(predictor, "model_dir", None)
    config = getattr(predictor, "config", None)
    if not model_dir or not isinstance(config, dict):
        raise PaddleXModelError(f"{type(model).__name__} does not expose a PaddleX model directory and config")
    if "Topk" not in (config.get("PostProcess") or {}):
        raise PaddleXModelError(
            f"{type(predictor).__name__} is not an image classifier (its PostProcess has no Topk)"
        )
    return from_paddlex_model_dir(model_dir, **overrides)


def training_output_model_dir(path):
    """The exported best model inside a PaddleX 3 training output folder, or None.

    PaddleX 3 training (PaddleClas's ``update_train_results``) writes ``train_results.json`` (its
    ``models.best.inference_config`` names the exported model's ``inference.yml``, relative to the
    folder, e.g. ``best_model/inference/inference.yml``), ``best_model/best_model.pdparams``
    and ``best_model/inference/``. The file is read when present; otherwise
    ``best_model/inference`` is used if it holds an ``inference.yml``."""
    import json

    try:
        if not os.path.isdir(path) or is_paddlex_model_dir(path):
            return None
    except TypeError:
        return None
    candidates = []
    result_file = os.path.join(path, "train_results.json")
    if os.path.isfile(result_file):
        try:
            with open(result_file, encoding="utf-8") as f:
                best = ((json.load(f).get("models") or {}).get("best")) or {}
            config = best.get("inference_config")
            if isinstance(config, str) and config:
                candidates.append(os.path.dirname(config if os.path.isabs(config) else os.path.join(path, config)))
        except (OSError, ValueError, AttributeError):
            pass
    candidates.append(os.path.join(path, "best_model", "inference"))
    for candidate in candidates:
        if is_paddlex_model_dir(candidate):
            return candidate
    return None
