"""Build a NormLIME prior (k-means over stem features of superpixels) from your own images.

PaddleX's ``pre_models.tar.gz`` holds a k-means model fitted on ImageNet superpixel features and
the ResNet50_vc stem that computes those features. :func:`build_prior` produces the same asset
layout from any folder of images, so NormLIME works without access to the download URL or for
a domain far from ImageNet:

1. the stem weights come from the downloaded assets (default), from another asset folder, from a
   PaddleClas ``ResNet50_vc`` / ``ResNet50_vd`` checkpoint (``.pdparams``) or from a mapping of
   arrays (see :func:`load_stem_weights` for the accepted key names);
2. every image is loaded, resized (short side 256) and centre-cropped (224) the way NormLIME
   prepares the images it explains, segmented into superpixels (quickshift by default, with the
   LIME defaults), passed through the stem, and each superpixel gives one 128-d feature row
   (:func:`~paddlex_interpret.priors.stem.superpixel_features`);
3. scikit-learn's ``KMeans(n_clusters=clusters, n_init=10, random_state=random_state)`` is fitted
   on all rows;
4. the 15 ``for_kmeans_*`` legacy LoDTensor files and ``kmeans_model.pkl`` (the pickled fitted
   ``KMeans``, as PaddleX stores it) are written into a temporary folder next to ``out_dir``,
   checked with :func:`~paddlex_interpret.priors.download.asset_problems`, and renamed into place.
   A failure leaves nothing behind.

The result can be passed wherever an asset folder is accepted (e.g. ``cache_dir`` of
:func:`~paddlex_interpret.priors.download.ensure_prior_assets`, :meth:`PriorStem.from_assets`).
"""
from __future__ import annotations

import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .download import KMEANS_FILE, PARAM_SHAPES, _replace_dir, asset_problems, ensure_prior_assets
from .legacy_tensor import read_lod_tensor, write_lod_tensor

__all__ = [
    "build_prior",
    "load_stem_weights",
    "list_images",
    "StemWeightsError",
    "DEFAULT_CLUSTERS",
    "IMAGE_EXTENSIONS",
    "CHECKPOINT_NAMINGS",
]

logger = logging.getLogger(__name__)

#: Default number of k-means centres. The number in PaddleX's ImageNet asset is not documented
#: (read it from ``load_cluster_centres(...).shape[0]`` if you have the asset); 30 keeps enough
#: superpixels per cluster for a few hundred images while still separating colours and textures.
DEFAULT_CLUSTERS = 30
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
RESIZE_SHORT = 256
CROP_SIZE = 224

_BN_KINDS = ("scale", "offset", "mean", "variance")


def _naming(conv: str, bn: Dict[str, str]) -> Dict[str, str]:
    """checkpoint key -> asset file name, for the three stem layers (``{i}`` = 1..3, ``{j}`` = 0..2)."""
    table = {}
    for i in (1, 2, 3):
        table[conv.format(i=i, j=i - 1)] = f"for_kmeans_conv1_{i}_weights"
        for kind in _BN_KINDS:
            table[bn[kind].format(i=i, j=i - 1)] = f"for_kmeans_bnv1_{i}_{kind}"
    return table


#: The checkpoint key namings understood by :func:`load_stem_weights`.
CHECKPOINT_NAMINGS: Dict[str, Dict[str, str]] = {
    # PaddleClas ResNet50_vc pretrained files: parameter names (ParamAttr names)
    "ResNet50_vc": _naming("conv1_{i}_weights", {k: f"bnv1_{{i}}_{k}" for k in _BN_KINDS}),
    # ResNet50_vc state_dict() of the dygraph model (structured names)
    "ResNet50_vc (structured)": _naming(
        "conv1_{i}._conv.weight",
        {"scale": "conv1_{i}._batch_norm.weight", "offset": "conv1_{i}._batch_norm.bias",
         "mean": "conv1_{i}._batch_norm._mean", "variance": "conv1_{i}._batch_norm._variance"}),
    # PaddleClas legacy_models ResNet50_vd (and any *_vd ResNet: same three-conv stem)
    "ResNet50_vd": _naming(
        "stem.{j}.conv.weight",
        {"scale": "stem.{j}.bn.weight", "offset": "stem.{j}.bn.bias",
         "mean": "stem.{j}.bn._mean", "variance": "stem.{j}.bn._variance"}),
}
# names whose keys may carry a prefix such as "backbone." (structured names only)
_PREFIXABLE = {"ResNet50_vc (structured)", "ResNet50_vd"}


class StemWeightsError(ValueError):
    """The stem weights could not be read (missing keys, wrong shapes, unreadable file)."""


# --- stem weights -----------------------------------------------------------------------------

def _to_array(value) -> np.ndarray:
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def _check_params(params: Dict[str, np.ndarray], source: str) -> Dict[str, np.ndarray]:
    out = {}
    for name, shape in PARAM_SHAPES.items():
        value = np.asarray(params[name])
        if value.dtype.kind not in "fiu" or tuple(value.shape) != shape:
            raise StemWeightsError(
                f"{source}: '{params.get('__key__' + name, name)}' is {value.dtype}{list(value.shape)}, "
                f"expected float{list(shape)} (is this a ResNet50_vc/vd stem?)")
        value = np.ascontiguousarray(value, dtype=np.float32)
        if not np.isfinite(value).all():
            raise StemWeightsError(f"{source}: '{params.get('__key__' + name, name)}' contains NaN or infinity")
        out[name] = value
    if any((out[f"for_kmeans_bnv1_{i}_variance"] < 0).any() for i in (1, 2, 3)):
        raise StemWeightsError(f"{source}: a BatchNorm variance is negative")
    return out


def _find_key(keys: Sequence[str], wanted: str, prefixable: bool) -> Tuple[Optional[str], List[str]]:
    if wanted in keys:
        return wanted, []
    if not prefixable:
        return None, []
    hits = [k for k in keys if k.endswith("." + wanted)]
    return (hits[0], []) if len(hits) == 1 else (None, hits)


def _params_from_mapping(state: Mapping, source: str) -> Dict[str, np.ndarray]:
    keys = [k for k in state.keys() if isinstance(k, str)]
    if all(name in state for name in PARAM_SHAPES):  # already in asset naming
        return _check_params({n: _to_array(state[n]) for n in PARAM_SHAPES}, source)
    best = None
    for naming, table in CHECKPOINT_NAMINGS.items():
        found, missing, ambiguous = {}, [], {}
        for key, target in table.items():
            hit, hits = _find_key(keys, key, naming in _PREFIXABLE)
            if hit is not None:
                found[target] = hit
            else:
                missing.append(key)
                if hits:
                    ambiguous[key] = hits
        if best is None or len(found) > len(best[1]):
            best = (naming, found, missing, ambiguous)
        if not missing:
            params = {target: _to_array(state[key]) for target, key in found.items()}
            params.update({"__key__" + target: key for target, key in found.items()})
            logger.info("reading the stem weights from %s (%s naming)", source, naming)
            return _check_params(params, source)
    naming, found, missing, ambiguous = best
    if not found:
        examples = ", ".join(f"'{k}'" for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
        raise StemWeightsError(
            f"{source} holds no ResNet50_vc/vd stem weights: expected keys like 'conv1_1_weights', "
            f"'bnv1_1_scale' (ResNet50_vc) or 'stem.0.conv.weight', 'stem.0.bn._mean' (ResNet50_vd); "
            f"found {len(keys)} keys: {examples or 'none'}")
    detail = ""
    if ambiguous:
        detail = "; ambiguous: " + "; ".join(f"'{k}' matches {v}" for k, v in ambiguous.items())
    raise StemWeightsError(
        f"{source} looks like a {naming} checkpoint but lacks {len(missing)} of the 15 stem keys: "
        + ", ".join(f"'{k}'" for k in missing) + detail)


def _params_from_folder(folder: Path) -> Dict[str, np.ndarray]:
    problems = [p for p in asset_problems(folder) if KMEANS_FILE not in p]
    if problems:
        raise StemWeightsError(f"'{folder}' is not a usable prior-asset folder: " + "; ".join(problems))
    return _check_params({name: read_lod_tensor(folder / name) for name in PARAM_SHAPES}, f"'{folder}'")


def _params_from_checkpoint(path: Path) -> Dict[str, np.ndarray]:
    import paddle

    try:
        state = paddle.load(str(path))
    except Exception as exc:  # pickle / format errors of all kinds
        raise StemWeightsError(f"'{path}' is not a readable Paddle checkpoint: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, Mapping):
        raise StemWeightsError(f"'{path}' holds a {type(state).__name__}, not a state dict")
    return _params_from_mapping(state, f"'{path}'")


def load_stem_weights(stem_weights=None, progress: bool = True) -> Dict[str, np.ndarray]:
    """The 15 stem parameters, keyed by their asset file names (``for_kmeans_conv1_1_weights`` ...).

    ``stem_weights`` may be:

    * ``None`` -- the downloaded / cached PaddleX assets (:func:`ensure_prior_assets`);
    * a folder -- an asset folder holding the 15 ``for_kmeans_*`` files (``kmeans_model.pkl`` is
      not needed);
    * a file -- a Paddle checkpoint (``.pdparams``, read with ``paddle.load``, which unpickles:
      only use files you trust) with the stem of PaddleClas

      - ``ResNet50_vc``: ``conv1_{1,2,3}_weights``, ``bnv1_{1,2,3}_{scale,offset,mean,variance}``
        (the pretrained file's parameter names), or its structured names
        ``conv1_{i}._conv.weight``, ``conv1_{i}._batch_norm.{weight,bias,_mean,_variance}``;
      - ``ResNet50_vd`` (any PaddleClas ``*_vd`` ResNet): ``stem.{0,1,2}.conv.weight``,
        ``stem.{0,1,2}.bn.{weight,bias,_mean,_variance}``;

      structured names may carry a prefix (``backbone.stem.0.conv.weight``);
    * a mapping of arrays / tensors in any of the namings above.

    Raises :class:`StemWeightsError` naming the missing keys, or a key of the wrong shape.
    """
    if stem_weights is None:
        return _params_from_folder(Path(ensure_prior_assets(progress=progress)))
    if isinstance(stem_weights, Mapping):
        return _params_from_mapping(stem_weights, "the stem_weights mapping")
    path = Path(stem_weights).expanduser()
    if path.is_dir():
        return _params_from_folder(path)
    if path.is_file():
        return _params_from_checkpoint(path)
    raise FileNotFoundError(f"stem_weights '{path}' is neither an asset folder nor a checkpoint file")


def _stem_from_params(params: Dict[str, np.ndarray]):
    from .stem import PriorStem

    stem = PriorStem()
    for name, value in params.items():
        stem._param(name).set_value(value)
    return stem


# --- images -----------------------------------------------------------------------------------

def list_images(images) -> list:
    """The image sources of ``images``: a folder (searched recursively for files with an
    extension in :data:`IMAGE_EXTENSIONS`, hidden files and folders skipped, sorted), a single
    image file, or a list of paths / arrays."""
    if isinstance(images, (str, os.PathLike)):
        root = Path(images).expanduser()
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise FileNotFoundError(f"images '{root}' is neither a folder nor an image file")
        found = sorted(
            p for p in root.rglob("*")
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not found:
            raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in '{root}'")
        return found
    sources = list(images)
    if not sources:
        raise ValueError("the list of images is empty")
    return sources


def _describe(source, index: int) -> str:
    return f"'{source}'" if isinstance(source, (str, os.PathLike)) else f"image #{index}"


# --- build ------------------------------------------------------------------------------------

def build_prior(
    images,
    out_dir,
    clusters: int = DEFAULT_CLUSTERS,
    stem_weights=None,
    segmentation="quickshift",
    random_state: int = 0,
    progress: bool = True,
    max_images: Optional[int] = None,
    segmentation_params: Optional[dict] = None,
    overwrite: bool = False,
) -> Path:
    """Fit a NormLIME prior on ``images`` and write it to ``out_dir`` in PaddleX's asset layout.

    Parameters
    ----------
    images : path or list
        A folder of images (searched recursively, see :func:`list_images`), one image file, or a
        list of image paths / arrays.
    out_dir : path
        The asset folder to create: 15 ``for_kmeans_*`` legacy LoDTensor files (the stem weights)
        and ``kmeans_model.pkl`` (a pickled fitted scikit-learn ``KMeans``).
    clusters : int, default :data:`DEFAULT_CLUSTERS` (30)
        Number of k-means centres (>= 2). Needs at least that many distinct superpixels.
    stem_weights : None, path or mapping
        Where the ResNet50_vc/vd stem comes from; see :func:`load_stem_weights`. Default: the
        downloaded PaddleX assets.
    segmentation : str or callable, default 'quickshift'
        Superpixel method (see :func:`paddlex_interpret.engine.lime.segmentation.segment`); use
        the one you will explain with. ``segmentation_params`` overrides its defaults.
    random_state : int, default 0
        Seed of the segmentation, of the ``max_images`` sample and of ``KMeans`` (same inputs and
        seed -> identical centres).
    progress : bool, default True
        Progress bar over the images (and over the asset download when ``stem_weights`` is None).
    max_images : int, optional
        Use a random sample (``random_state``) of this many images, kept in sorted order.
    overwrite : bool, default False
        Replace an existing non-empty ``out_dir`` (atomically, once the new prior is complete).

    Returns
    -------
    Path
        ``out_dir`` (absolute), which passes :func:`~paddlex_interpret.priors.download.assets_valid`.

    Raises
    ------
    FileNotFoundError, ValueError, StemWeightsError
        Missing or empty image folder, no readable image, fewer superpixels than ``clusters``,
        stem weights with missing keys or wrong shapes, ``out_dir`` already in use.
    """
    from tqdm.auto import tqdm

    from ..data import ImagePreprocess, load_image
    from ..data.segmentation import segment
    from .stem import superpixel_features

    if isinstance(clusters, bool) or not isinstance(clusters, (int, np.integer)) or clusters < 2:
        raise ValueError(f"clusters must be an integer >= 2, got {clusters!r}")
    clusters = int(clusters)
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer))
                                   or max_images < 1):
        raise ValueError(f"max_images must be a positive integer or None, got {max_images!r}")
    out = Path(out_dir).expanduser().absolute()
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise FileExistsError(f"out_dir '{out}' exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise FileExistsError(f"out_dir '{out}' is not empty; pass overwrite=True to replace it")

    sources = list_images(images)
    if max_images is not None and len(sources) > max_images:
        rng = np.random.default_rng(random_state)
        sources = [sources[i] for i in sorted(rng.choice(len(sources), size=int(max_images), replace=False))]
    params = load_stem_weights(stem_weights, progress=progress)
    stem = _stem_from_params(params)
    geometry = ImagePreprocess(resize_short=RESIZE_SHORT, crop_size=CROP_SIZE)

    rows: List[np.ndarray] = []
    skipped: List[str] = []
    for index, source in enumerate(tqdm(sources, desc="build prior", unit="image", disable=not progress)):
        try:
            image = load_image(source)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("skipping %s: %s", _describe(source, index), exc)
            skipped.append(_describe(source, index))
            continue
        image = geometry.geometry(image)
        labels = segment(image, segmentation, segmentation_params, random_state=random_state)
        rows.append(superpixel_features(stem.feature_map(image), labels))
    used = len(sources) - len(skipped)
    if not rows:
        raise ValueError(f"none of the {len(sources)} images could be read (first: {skipped[0]})")
    features = np.concatenate(rows, axis=0)
    distinct = len(np.unique(features, axis=0))
    if distinct < clusters:
        raise ValueError(
            f"only {len(features)} superpixels ({distinct} distinct) from {used} image(s), fewer than "
            f"clusters={clusters}: add images or lower the number of clusters")

    from sklearn.cluster import KMeans

    logger.info("fitting KMeans(n_clusters=%d) on %d superpixels from %d images", clusters, len(features), used)
    kmeans = KMeans(n_clusters=clusters, n_init=10, random_state=random_state).fit(features)

    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        for name, value in params.items():
            write_lod_tensor(temp / name, value)
        with open(temp / KMEANS_FILE, "wb") as f:
            pickle.dump(kmeans, f, protocol=4)  # readable by Python >= 3.4, like PaddleX's
        problems = asset_problems(temp)
        if problems:  # pragma: no cover - would be a bug here
            raise RuntimeError("the built prior fails validation: " + "; ".join(problems))
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        _replace_dir(temp, out)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    if skipped:
        logger.warning("built the prior from %d of %d images (%d unreadable skipped)", used, len(sources), len(skipped))
    return out
