"""NormLIME's dataset job: the global weights of a classifier over a dataset, and the cache policy
that reuses a matching weights file instead of recomputing it.

* ``algorithm='paddlex'`` (PaddleX's ``precompute_global_classifier``): each image at the
  classifier's explained geometry, predicted class = argmax of ``predict_proba``, a fixed
  10x10 grid of superpixels, ``x`` = binary presence vector of clusters over the grid cells.
  A multinomial ``LogisticRegression(max_iter=1000)`` of the predicted class on ``x``; each
  class row ``w`` becomes ``softmax(10 * (w - max w))`` (binary problem: ``+coef`` for the
  second class, ``-coef`` for the first). Classes never predicted get the uniform ``1/K``;
  fewer than two predicted classes give uniform weights for every class.
* ``algorithm='lime_average'`` (InterpretDL's NormLIMECVInterpreter): LIME (quickshift) on
  every image for its predicted class; each superpixel's weight ``w_i`` contributes
  ``w_i^2 / ||w||_1`` to (class, cluster of the superpixel); the global weight is the mean over
  occurrences, normalised per class to sum to 1 (classes never seen: uniform).

Superpixels are described by the prior's ResNet50_vc stem features and mapped to their nearest
k-means centre (:mod:`paddlex_interpret.priors.features`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
from tqdm.auto import tqdm

from ...data.datasets import dataset_size, iter_dataset_images
from ...priors.features import GRID_SIZE, grid_segments, load_prior, superpixel_clusters
from .global_weights import GlobalWeights, centres_fingerprint, label_list
from .lime_image import LimeImage

__all__ = ["compute_global_weights", "global_weights_for", "ALGORITHMS", "DEFAULT_WEIGHTS_NAME"]

ALGORITHMS = ("paddlex", "lime_average")
DEFAULT_WEIGHTS_NAME = "normlime_weights.npz"


def _softmax_rows(w: np.ndarray, temperature: float = 10.0) -> np.ndarray:
    z = temperature * (w - w.max(axis=1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _paddlex_weights(x: np.ndarray, y: np.ndarray, num_classes: int, random_state) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    k = x.shape[1]
    out = np.full((num_classes, k), 1.0 / k)
    classes = np.unique(y)
    if len(classes) < 2:
        return out
    clf = LogisticRegression(max_iter=1000, random_state=random_state).fit(x, y)
    coef = clf.coef_
    if len(clf.classes_) == 2:
        coef = np.stack([-coef[0], coef[0]])
    out[clf.classes_] = _softmax_rows(coef)
    return out


def compute_global_weights(classifier, dataset, assets_dir=None, algorithm: str = "paddlex",
                           progress: bool = True, lime_params: Optional[Dict[str, Any]] = None,
                           random_state: Optional[int] = 0, prior=None) -> GlobalWeights:
    """Compute NormLIME's global weights of ``classifier`` over ``dataset``.

    Parameters
    ----------
    classifier : Classifier
    dataset : file list path, folder, list of images or paddle.io.Dataset
        See :func:`paddlex_interpret.data.datasets.iter_dataset_images`. Each image is brought to
        the classifier's explained geometry (``classifier.image_as_explained``).
    assets_dir : path or None
        The prior asset folder (``kmeans_model.pkl`` + stem parameters); None fetches / reuses the
        cache with :func:`~paddlex_interpret.priors.ensure_prior_assets`.
    algorithm : {'paddlex', 'lime_average'}, default 'paddlex'
        See the module docstring.
    progress : bool, default True
        tqdm progress bar over the dataset.
    lime_params : dict, optional
        ``'lime_average'`` only: :class:`LimeImage` parameters (num_samples, batch_size, ...).
    random_state : int or None, default 0
        Seed of the logistic regression ('paddlex') or of every LIME run ('lime_average').
    prior : (stem, centres), optional
        Already loaded prior (from :func:`load_prior`); overrides ``assets_dir``.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if lime_params and algorithm != "lime_average":
        raise ValueError("lime_params are only used by algorithm='lime_average'")
    stem, centres = prior if prior is not None else load_prior(assets_dir)
    k = int(np.asarray(centres).shape[0])
    num_classes = classifier.num_classes
    counts = np.zeros(num_classes, dtype=np.int64)
    params: Dict[str, Any] = {"random_state": random_state}

    bar = tqdm(iter_dataset_images(dataset), total=dataset_size(dataset), desc=f"NormLIME ({algorithm})",
               unit="img", disable=not progress)
    if algorithm == "paddlex":
        xs, ys = [], []
        for _, raw in bar:
            image = classifier.image_as_explained(raw)
            pred = int(np.argmax(classifier.predict_proba(image[None], batch_size=1)[0]))
            clusters = superpixel_clusters(stem, centres, image, grid_segments(image.shape[:2]))
            x = np.zeros(k)
            x[clusters] = 1.0
            xs.append(x)
            ys.append(pred)
            counts[pred] += 1
        weights = _paddlex_weights(np.asarray(xs), np.asarray(ys), num_classes, random_state)
        params.update({"grid": GRID_SIZE, "temperature": 10.0})
    else:
        lime_params = {"progress": False, **dict(lime_params or {}), "random_state": random_state}
        explainer = LimeImage(classifier, **lime_params)
        sums = np.zeros((num_classes, k))
        occurrences = np.zeros((num_classes, k))
        for _, raw in bar:
            image = classifier.image_as_explained(raw)
            exp = explainer.explain(image, top_k=1)
            t = exp.target
            w = np.asarray(exp.weights[t], dtype=np.float64)
            clusters = superpixel_clusters(stem, centres, exp.image, exp.segments)
            l1 = np.abs(w).sum()
            contrib = w ** 2 / l1 if l1 > 0 else np.zeros_like(w)
            np.add.at(sums[t], clusters, contrib)
            np.add.at(occurrences[t], clusters, 1.0)
            counts[t] += 1
        means = np.divide(sums, occurrences, out=np.zeros_like(sums), where=occurrences > 0)
        totals = means.sum(axis=1, keepdims=True)
        weights = np.where(totals > 0, means / np.where(totals > 0, totals, 1.0), 1.0 / k)
        params["lime_params"] = explainer.params(random_state if random_state is not None else 0)
    bar.close()
    n_images = int(counts.sum())
    if n_images == 0:
        raise ValueError("the dataset yielded no images")
    return GlobalWeights(weights=weights, algorithm=algorithm, label_names=label_list(classifier),
                         centres_sha256=centres_fingerprint(centres), num_images=n_images,
                         class_counts=counts, params=params)


def stored_weights_path(weights_file) -> Path:
    """Where :meth:`GlobalWeights.save` puts ``weights_file``: the name as given, ``.npz`` added to a
    name without a suffix."""
    path = Path(weights_file)
    return path if path.suffix else path.with_name(path.name + ".npz")


def global_weights_for(classifier, dataset, weights_file, prior: Tuple[Any, np.ndarray], algorithm: str = "paddlex",
                       progress: bool = True, random_state: Optional[int] = 0) -> Tuple[GlobalWeights, Path]:
    """The global weights of ``classifier``: read from ``weights_file`` when it holds weights for this
    classifier's classes, the prior's centres and ``algorithm`` (ours, or PaddleX's own pickled
    ``normlime_weights*.npy``, read without running code); otherwise computed over ``dataset`` and
    written to ``weights_file`` atomically. Returns ``(weights, path of the file)``.

    ValueError, saying why the file cannot be used, when it does not fit and ``dataset`` is None.
    """
    stem, centres = prior
    path = stored_weights_path(weights_file)
    reason = "it does not exist"
    if path.is_file():
        try:
            weights = _read_weights_file(path, classifier, centres)
            reason = weights.mismatch(classifier, centres)
            if reason is None and weights.algorithm != algorithm:
                reason = f"it holds {weights.algorithm!r} weights, {algorithm!r} were asked for"
            if reason is None:
                return weights, path
        except ValueError as exc:
            reason = f"it cannot be read ({exc})"
    if dataset is None:
        raise ValueError(
            f"the NormLIME weights file '{path}' cannot be used: {reason}. Pass dataset=... "
            "(a file list, a folder of images, a list of images or a paddle.io.Dataset) to compute it")
    weights = compute_global_weights(classifier, dataset, prior=prior, algorithm=algorithm, progress=progress,
                                     random_state=random_state if random_state is not None else 0)
    return weights, weights.save(path)


def _read_weights_file(path: Path, classifier, centres) -> GlobalWeights:
    """Our ``.npz`` weights, or PaddleX's pickled ``{class: {cluster: weight}}`` ``.npy``."""
    try:
        return GlobalWeights.load(path)
    except ValueError as ours:
        try:
            return GlobalWeights.from_paddlex_file(path, classifier, centres)
        except ValueError:
            raise ours from None
