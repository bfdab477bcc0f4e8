"""PaddleClas models: an architecture instance from ``ppcls``, a PaddleClas config YAML plus
trained ``.pdparams`` (architecture, preprocessing and label names all from the config), or a
PaddleClas ``Engine`` after ``engine.train()`` (its network, Infer transforms and class-id map)."""
from __future__ import annotations

import os
from .base import check_overrides
from .transform_config import preprocess_from_ops

__all__ = ["is_paddleclas_network", "from_paddleclas_network", "from_paddleclas_config", "read_class_id_map",
           "is_paddleclas_engine", "from_paddleclas_engine",
           "build_paddleclas_network", "PaddleClasConfigError"]

_LAYER_OVERRIDES = ("labels", "output", "preprocess", "runner")


class PaddleClasConfigError(ValueError):
    """A PaddleClas config or checkpoint cannot be used."""


def is_paddleclas_network(obj) -> bool:
    """True for instances of PaddleClas architectures (``paddleclas.ppcls`` or a source ``ppcls``)."""
    import paddle

    module = type(obj).__module__ or ""
    return isinstance(obj, paddle.nn.Layer) and (module.startswith("ppcls.") or module.startswith("paddleclas.ppcls."))


def from_paddleclas_network(network, **overrides):
    """Wrap a PaddleClas architecture instance. Preprocessing defaults to PaddleClas's ImageNet
    inference transforms (resize short side 256, centre crop 224, ImageNet mean/std on 0-1
    pixels), which is :class:`ImagePreprocess`'s default; give ``preprocess=`` if you trained
    with other ones."""
    from .paddle_layer import PaddleLayerClassifier

    check_overrides(overrides, _LAYER_OVERRIDES, "a PaddleClas network")
    return PaddleLayerClassifier(network, **overrides)


def read_class_id_map(path) -> list:
    """Label names from a PaddleClas ``class_id_map_file`` (lines ``<id> <name>``, ids 0..K-1)."""
    names = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            key, _, name = line.partition(" ")
            try:
                index = int(key)
            except ValueError:
                raise PaddleClasConfigError(f"{path}:{number}: expected '<class id> <name>', got {line!r}") from None
            names[index] = name.strip() or key
    if sorted(names) != list(range(len(names))):
        raise PaddleClasConfigError(f"{path}: class ids must be 0..{len(names) - 1} without gaps")
    return [names[i] for i in range(len(names))]


def _load_yaml(path) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except OSError as exc:
        raise FileNotFoundError(f"cannot read config {path!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PaddleClasConfigError(f"{path!r} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise PaddleClasConfigError(f"{path!r} does not hold a mapping")
    return config


def build_paddleclas_network(name: str, class_num: int, weights=None, **arch_args):
    """``paddleclas.ppcls.arch.backbone.<name>(pretrained=False, class_num=...)``, with ``weights``
    (a ``.pdparams`` path) loaded; every key of the checkpoint must match the architecture."""
    import paddle

    try:
        from paddleclas.ppcls.arch import backbone
    except ImportError as exc:
        raise ImportError(
            "building a PaddleClas architecture needs paddleclas: pip install \"paddlex_interpret[paddleclas]\" "
            "&& pip install --no-deps paddleclas==2.6.0 (see the README)"
        ) from exc
    factory = getattr(backbone, str(name), None)
    if factory is None or not callable(factory):
        import difflib

        close = difflib.get_close_matches(str(name), [n for n in dir(backbone) if not n.startswith("_")], n=5)
        raise PaddleClasConfigError(f"PaddleClas has no architecture {name!r}" + (f"; close: {close}" if close else ""))
    network = factory(pretrained=False, class_num=int(class_num), **arch_args)
    if weights is not None:
        weights = os.fspath(weights)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"weights file {weights!r} does not exist")
        try:
            state = paddle.load(weights)
        except Exception as exc:
            raise PaddleClasConfigError(f"cannot read weights {weights!r}: {exc}") from exc
        own = network.state_dict()
        missing = sorted(set(own) - set(state))
        mismatched = [k for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
        if missing or mismatched:
            detail = (f"missing {missing[:5]}" if missing else "") + (
                f" shape mismatch {[(k, list(state[k].shape), list(own[k].shape)) for k in mismatched[:3]]}"
                if mismatched else "")
            raise PaddleClasConfigError(
                f"{weights!r} does not fit {name}(class_num={class_num}): {detail.strip()}"
            )
        network.set_state_dict({k: state[k] for k in own})
    network.eval()
    return network


def from_paddleclas_config(config_path, weights=None, **overrides):
    """Build a classifier from a PaddleClas config and its trained weights.

    Parameters
    ----------
    config_path : str
        PaddleClas YAML: ``Arch.name`` / ``Arch.class_num`` (or ``Global.class_num``) pick the
        architecture, ``Infer.transforms`` the preprocessing, ``Infer.PostProcess.class_id_map_file``
        the label names (relative paths are tried against the config's folder, then the cwd).
    weights : str, optional
        ``.pdparams`` file; None builds the architecture with random weights (a warning says so).
    **overrides
        ``preprocess``, ``labels``, ``output``, ``runner``.
    """
    import warnings

    from .paddle_layer import PaddleLayerClassifier

    check_overrides(overrides, _LAYER_OVERRIDES, "a PaddleClas config")
    config_path = os.fspath(config_path)
    config = _load_yaml(config_path)
    arch = dict(config.get("Arch") or {})
    name = arch.pop("name", None)
    if not name:
        raise PaddleClasConfigError(f"{config_path!r} has no Arch.name")
    class_num = arch.pop("class_num", None) or (config.get("Global") or {}).get("class_num")
    if not class_num:
        raise PaddleClasConfigError(f"{config_path!r} gives no Arch.class_num")
    arch.pop("pretrained", None)
    infer = config.get("Infer") or {}
    preprocess = overrides.pop("preprocess", None)
    if preprocess is None:
        preprocess = preprocess_from_ops(infer.get("transforms"), source=f"{config_path} Infer.transforms")
    labels = overrides.pop("labels", None)
    map_file = ((infer.get("PostProcess") or {}).get("class_id_map_file")) if labels is None else None
    if map_file:
        for candidate in (os.path.join(os.path.dirname(os.path.abspath(config_path)), map_file), map_file):
            if os.path.isfile(candidate):
                labels = read_class_id_map(candidate)
                break
        else:
            warnings.warn(f"class_id_map_file {map_file!r} of {config_path!r} not found; classes are shown as numbers",
                          stacklevel=2)
    if weights is None:
        warnings.warn(f"no weights given for {config_path!r}: {name} has random weights", stacklevel=2)
    network = build_paddleclas_network(name, class_num, weights, **arch)
    return PaddleLayerClassifier(network, preprocess=preprocess, labels=labels, **overrides)


# -- a PaddleClas Engine after engine.train() ------------------------------------------------------------
def is_paddleclas_engine(obj) -> bool:
    """True for a ``ppcls.engine.engine.Engine`` (PaddleClas's trainer, from a PaddleClas source
    checkout: the pip wheel ``paddleclas`` ships no ``ppcls.engine``)."""
    cls = type(obj)
    module = cls.__module__ or ""
    return (cls.__name__ == "Engine" and module.endswith("ppcls.engine.engine")
            and hasattr(obj, "model") and hasattr(obj, "config"))


def from_paddleclas_engine(engine, **overrides):
    """Wrap a PaddleClas ``Engine`` (typically right after ``engine.train()``).

    Parameters
    ----------
    engine : ppcls.engine.engine.Engine
        A classification engine. Its network is ``engine.model`` (unwrapped from
        ``paddle.DataParallel``; with ``EMA`` in the config the EMA copy
        ``engine.model_ema.module`` is taken, as PaddleClas evaluates and saves it);
        preprocessing comes from ``engine.config['Infer']['transforms']`` and the label names
        from ``Infer.PostProcess.class_id_map_file`` (an absolute path, or relative to the cwd as
        PaddleClas reads it).
    **overrides
        ``preprocess``, ``labels``, ``output``, ``runner`` (as for a ``paddle.nn.Layer``).

    Notes
    -----
    The engine's network keeps its train/eval flags: every explanation runs it in eval mode and
    restores them. Retrieval / distillation engines (dict outputs) are refused.
    """
    import warnings

    import paddle

    from .paddle_layer import PaddleLayerClassifier

    check_overrides(overrides, _LAYER_OVERRIDES, "a PaddleClas Engine")
    config = engine.config
    eval_mode = (config.get("Global") or {}).get("eval_mode", "classification")
    if getattr(engine, "is_rec", False) or eval_mode != "classification":
        raise TypeError(f"the PaddleClas Engine is a {eval_mode!r} / recognition engine; only classification "
                        "engines (Arch without Head, Global.eval_mode 'classification') can be explained")
    network = engine.model
    if getattr(engine, "ema", False) and getattr(engine, "model_ema", None) is not None:
        network = engine.model_ema.module
    if isinstance(network, paddle.DataParallel):
        network = network._layers
    if type(network).__name__ == "DistillationModel":
        raise TypeError("the PaddleClas Engine trains a DistillationModel (dict outputs); wrap its student network "
                        "(engine.model.model_list[i]) instead")
    infer = config.get("Infer") or {}
    preprocess = overrides.pop("preprocess", None)
    if preprocess is None:
        if not infer.get("transforms"):
            raise PaddleClasConfigError("the Engine's config has no Infer.transforms; "
                                        "give preprocess=ImagePreprocess(...)")
        preprocess = preprocess_from_ops(infer.get("transforms"), source="Engine config Infer.transforms")
    labels = overrides.pop("labels", None)
    map_file = ((infer.get("PostProcess") or {}).get("class_id_map_file")) if labels is None else None
    if map_file:
        if os.path.isfile(map_file):
            labels = read_class_id_map(map_file)
        else:
            warnings.warn(f"class_id_map_file {map_file!r} of the Engine's config not found; classes are shown as "
                          "numbers", stacklevel=2)
    return PaddleLayerClassifier(network, preprocess=preprocess, labels=labels, **overrides)
