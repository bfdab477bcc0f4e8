"""Sanity checks for saliency maps (Adebayo et al. 2018, https://arxiv.org/abs/1810.03292).

An explanation method that is meant to explain *the model* must give different maps when the
model is destroyed. Two checks:

* :class:`ModelParameterRandomization` ('model_randomization'): re-initialise the network's
  layers one after another from the output down (cascading) or one at a time (independent) and
  compare the map of each randomised model with the map of the trained one.
* :class:`DataRandomizationCheck` ('data_randomization'): compare the maps of a model trained on
  the true labels with those of the same model trained on randomly permuted labels. The user
  supplies the training.

Lower similarity = the explanation depends on what the model learned = the method passes.
A method whose maps stay similar (e.g. one that is essentially an edge detector of the input)
fails, whatever its maps look like.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..engine.maps import importance_map
from .base import Metric, MetricResult, ranking_map

__all__ = ["ModelParameterRandomization", "DataRandomizationCheck", "map_similarity", "randomization_groups",
           "SIMILARITIES"]

#: similarity measures between two explanations of the same image
SIMILARITIES = ("spearman", "spearman_signed", "ssim", "hog")
_GRANULARITIES = ("top", "block", "leaf")
_DISTRIBUTIONS = ("normal", "uniform")


# -- similarity of two maps ----------------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    """Min-max normalisation to [0, 1] (a constant map becomes all zeros)."""
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = a.ravel(), b.ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a constant map has no ranking
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    side = min(a.shape)
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float("nan")
    return float(structural_similarity(_unit(a), _unit(b), data_range=1.0, win_size=win))


def _hog(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.feature import hog

    cell = max(2, min(a.shape) // 14)
    fa = hog(_unit(a), pixels_per_cell=(cell, cell), cells_per_block=(2, 2), feature_vector=True)
    fb = hog(_unit(b), pixels_per_cell=(cell, cell), cells_per_block=(2, 2), feature_vector=True)
    if np.ptp(fa) == 0 or np.ptp(fb) == 0:
        return float("nan")
    return float(np.corrcoef(fa, fb)[0, 1])


def map_similarity(first, second, measure: str) -> float:
    """Similarity of two explanations of the same image.

    * ``'spearman'``: Spearman rank correlation (``scipy.stats.spearmanr``) of the absolute
      ranking maps, ``|ranking_map|`` flattened (gradient maps: |attribution| summed over channels).
    * ``'spearman_signed'``: the same on the signed maps (``pixel_map()``, channels summed).
    * ``'ssim'``: ``skimage.metrics.structural_similarity`` of the absolute ranking maps, each
      min-max normalised to [0, 1] (``data_range=1``; window 7, smaller for tiny maps).
    * ``'hog'``: Pearson correlation of the HOG features (``skimage.feature.hog``) of the
      normalised absolute maps, as in the paper.

    NaN where the measure is undefined (a constant map has no ranking).
    """
    if measure not in SIMILARITIES:
        raise ValueError(f"unknown similarity {measure!r}; choose from {SIMILARITIES}")
    if measure == "spearman_signed":
        a, b = importance_map(first), importance_map(second)
    else:
        a, b = (importance_map(e, "absolute", channels="abs_sum") for e in (first, second))
    if a.shape != b.shape:
        raise ValueError(f"cannot compare maps of shapes {a.shape} and {b.shape}")
    return {"spearman": _spearman, "spearman_signed": _spearman, "ssim": _ssim, "hog": _hog}[measure](a, b)


def _nanmean(values: np.ndarray) -> float:
    """Mean of the defined values; NaN if there is none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _check_similarity(similarity) -> Tuple[str, ...]:
    if isinstance(similarity, str):
        similarity = (similarity,)
    similarity = tuple(similarity)
    if not similarity:
        raise ValueError(f"similarity needs at least one of {SIMILARITIES}")
    for s in similarity:
        if s not in SIMILARITIES:
            raise ValueError(f"unknown similarity {s!r}; choose from {SIMILARITIES}")
    return similarity


def _check_factory(method_factory):
    if not callable(method_factory):
        raise TypeError("method_factory must be a callable: classifier -> method with .explain(image, target)")
    return method_factory


def _explain(method_factory, classifier, image, target):
    method = method_factory(classifier)
    if not hasattr(method, "explain"):
        raise TypeError(f"method_factory returned {type(method).__name__}, which has no explain(image, target)")
    return method.explain(image, target)


def _image_and_target(explanation, image, target):
    if image is None:
        if explanation is None or not hasattr(explanation, "image"):
            raise ValueError("give an explanation (its image and target are used) or image=...")
        image = explanation.image
    if target is None and explanation is not None and hasattr(explanation, "target"):
        target = int(explanation.target)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 RGB image (H, W, 3) as explained; got {image.dtype} {image.shape}")
    return image, target


# -- which layers ------------------------------------------------------------------------------
def _trainable(layer, own_only: bool):
    return [p for p in layer.parameters(include_sublayers=not own_only) if p.trainable]


def randomization_groups(network, granularity: str = "top", layers: Optional[Sequence[str]] = None
                         ) -> List[Tuple[str, object]]:
    """``[(name, sublayer), ...]`` in the order they are randomised: output side first.

    ``layers`` (sublayer names as in ``network.named_sublayers()``) are taken as given, first =
    randomised first. Otherwise the sublayers holding trainable parameters, in reverse
    registration order (``__init__`` order, which for sequential networks is input to output):

    * ``'top'``: the network's direct children (a container such as ``_blocks`` is one group);
    * ``'block'``: direct children, with containers (``LayerList``, ``Sequential``,
      ``LayerDict``) expanded into their children: ``_fc, _bn1, _conv_head, _blocks.15, ...,
      _blocks.0, _bn0, _conv_stem`` for the demo EfficientNet;
    * ``'leaf'``: every sublayer with parameters of its own (each conv, BN, linear).

    Networks whose registration order is not the data flow order need ``layers=``.
    """
    from paddle import nn

    named = dict(network.named_sublayers())
    if layers is not None:
        if isinstance(layers, str):
            layers = [layers]
        groups = []
        for name in layers:
            if name not in named:
                raise ValueError(f"layer {name!r} not found in {type(network).__name__}; known: {list(named)[:12]} ...")
            if not _trainable(named[name], own_only=False):
                raise ValueError(f"layer {name!r} has no trainable parameters to randomise")
            groups.append((name, named[name]))
        if not groups:
            raise ValueError("layers is empty")
        return groups
    if granularity not in _GRANULARITIES:
        raise ValueError(f"granularity must be one of {_GRANULARITIES}, got {granularity!r}")
    if granularity == "leaf":
        groups = [(n, l) for n, l in named.items() if _trainable(l, own_only=True)]
    else:
        groups = []
        for name, child in network.named_children():
            if granularity == "block" and isinstance(child, (nn.LayerList, nn.Sequential, nn.LayerDict)):
                groups.extend((f"{name}.{n}", c) for n, c in child.named_children())
            else:
                groups.append((name, child))
        groups = [(n, l) for n, l in groups if _trainable(l, own_only=False)]
    if not groups:
        raise ValueError(f"{type(network).__name__} has no trainable parameters to randomise")
    return groups[::-1]


# -- the model randomisation test ----------------------------------------------------------------
class ModelParameterRandomization(Metric):
    """Adebayo et al.'s model parameter randomisation test.

    The image is explained with the trained model; then, on a **deep copy** of the network
    (``classifier.clone()``: same preprocess, labels and output kind; the user's model is never
    touched), layer groups
    are re-initialised from the output down, and the image is re-explained after each step for
    the same target. Each step's map is compared with the trained model's map.

    Parameters
    ----------
    method_factory : callable
        ``classifier -> method``; the method has ``.explain(image, target)`` returning a
        Pixel/SuperpixelExplanation, e.g. ``lambda c: SmoothGrad(c, n_samples=10, random_state=0)``.
        It is called once per model. Fix the method's seed so that differences come from the
        model, not from the method's own noise.
    cascading : bool, default True
        True: randomisation accumulates (step k = the top k groups random). False: each group is
        randomised alone, the rest kept trained ("independent" randomisation).
    layers : sequence of str, optional
        Sublayer names to randomise, in this order; default: chosen by ``granularity``.
    granularity : {'top', 'block', 'leaf'}, default 'top'
        See :func:`randomization_groups`. Layers are the sublayers with trainable parameters in
        reverse registration order.
    random_state : int, default 0
        Seed. Parameter ``i`` (its position in ``network.named_parameters()``) is drawn from a
        generator seeded by ``(random_state, i)``, so a layer gets the same values in cascading
        and independent runs.
    similarity : str or sequence, default ('spearman', 'ssim')
        Measures from :data:`SIMILARITIES` (see :func:`map_similarity`); the first is the score.
    distribution : {'normal', 'uniform'}, default 'normal'
        Re-initialisation: every trainable parameter tensor is replaced by i.i.d. draws with the
        same mean and standard deviation as its trained values (uniform: half-width
        ``sqrt(3) * std``), so activations keep their scale while the learned structure is gone.
        A constant tensor (std 0) is drawn with std ``|mean|`` (a zero tensor stays zero).
        Non-trainable parameters (batch-norm running statistics) are kept.
    keep_maps : bool, default False
        Store every step's ranking map in ``details['maps']``.

    Notes
    -----
    ``evaluate(explanation=None, classifier, image=None, target=None)``: the explanation only
    supplies the image (``explanation.image``) and target; the trained model's map is recomputed
    with ``method_factory(classifier)``. ``target`` defaults to the explanation's, else the
    model's top-1 class. The classifier must be a ``PaddleLayerClassifier``.

    Result: ``score`` = the first similarity after full randomisation (cascading: last step;
    independent: mean over the groups where it is defined); NaN, with a warning, when undefined
    (a constant map, e.g. a network whose ReLUs all died). Lower is better (``higher_is_better=False``). Details:
    ``layers`` (group randomised at each step), one array per similarity (one value per step),
    ``probability``/``top1`` of the randomised model per step (check the model is really
    destroyed), ``target``, ``original_map``, the parameters.
    """

    name = "model_randomization"
    applies_to = ("superpixel", "pixel")
    higher_is_better = False
    needs_model = True
    needs = ()
    description = "Adebayo et al. 2018: similarity of explanations after re-initialising layers (lower passes)"

    def __init__(self, method_factory: Callable, cascading: bool = True, layers: Optional[Sequence[str]] = None,
                 random_state: int = 0, similarity=("spearman", "ssim"), granularity: str = "top",
                 distribution: str = "normal", keep_maps: bool = False):
        self.method_factory = _check_factory(method_factory)
        self.cascading = bool(cascading)
        self.layers = None if layers is None else ([layers] if isinstance(layers, str) else list(layers))
        if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral) or random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state!r}")
        self.random_state = int(random_state)
        self.similarity = _check_similarity(similarity)
        if granularity not in _GRANULARITIES:
            raise ValueError(f"granularity must be one of {_GRANULARITIES}, got {granularity!r}")
        self.granularity = granularity
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}")
        self.distribution = distribution
        self.keep_maps = bool(keep_maps)

    # -- copy and randomise ------------------------------------------------------------------------
    def _new_values(self, index: int, value: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.random_state, index])
        mean, std = float(value.mean()), float(value.std())
        if std == 0:
            std = abs(mean)
        if self.distribution == "normal":
            new = rng.normal(mean, std, size=value.shape)
        else:
            half = np.sqrt(3.0) * std
            new = rng.uniform(mean - half, mean + half, size=value.shape)
        return new.astype(value.dtype)

    def _randomise(self, network, layer) -> Dict[str, np.ndarray]:
        """Re-initialise ``layer``'s trainable parameters in place; return their old values by name."""
        index = {id(p): i for i, (_, p) in enumerate(network.named_parameters())}
        saved = {}
        for pname, p in layer.named_parameters():
            if not p.trainable:
                continue
            old = p.numpy()
            saved[pname] = old
            p.set_value(self._new_values(index[id(p)], old))
        return saved

    @staticmethod
    def _restore(layer, saved):
        params = dict(layer.named_parameters())
        for pname, value in saved.items():
            params[pname].set_value(value)

    # -- the check ----------------------------------------------------------------------------------
    def evaluate(self, explanation=None, classifier=None, image=None, target=None, **inputs) -> MetricResult:
        if inputs:
            raise TypeError(f"model_randomization got unexpected inputs {sorted(inputs)}")
        if classifier is None:
            raise ValueError("model_randomization needs the classifier whose explanations are checked")
        image, target = _image_and_target(explanation, image, target)
        if target is None:
            target = int(np.argmax(classifier.predict_proba(image[None], batch_size=1)[0]))
        target = classifier.check_class_index(target, "target")

        original = _explain(self.method_factory, classifier, image, target)
        random_clf = classifier.clone()
        network = random_clf.network
        groups = randomization_groups(network, self.granularity, self.layers)

        values = {s: [] for s in self.similarity}
        probs, top1, maps = [], [], []
        for name, layer in groups:
            saved = self._randomise(network, layer)
            randomised = _explain(self.method_factory, random_clf, image, target)
            p = random_clf.predict_proba(image[None], batch_size=1)[0]
            probs.append(float(p[target]))
            top1.append(int(np.argmax(p)))
            for s in self.similarity:
                values[s].append(map_similarity(original, randomised, s))
            if self.keep_maps:
                maps.append(ranking_map(randomised))
            if not self.cascading:
                self._restore(layer, saved)

        arrays = {s: np.asarray(v, dtype=np.float64) for s, v in values.items()}
        first = arrays[self.similarity[0]]
        score = float(first[-1]) if self.cascading else _nanmean(first)
        if not np.isfinite(score):
            warnings.warn(f"the {self.similarity[0]} similarity is undefined (a constant map); score is NaN",
                          RuntimeWarning, stacklevel=2)
        original_probability = float(classifier.predict_proba(image[None], batch_size=1)[0][target])
        details = {
            "layers": [n for n, _ in groups], **arrays, "probability": np.asarray(probs), "top1": np.asarray(top1),
            "target": int(target), "original_probability": original_probability,
            "original_map": ranking_map(original), "cascading": self.cascading, "granularity": self.granularity,
            "random_state": self.random_state, "distribution": self.distribution,
            "similarity": list(self.similarity),
        }
        if self.keep_maps:
            details["maps"] = np.stack(maps)
        return MetricResult(name=self.name, score=score, higher_is_better=False, details=details)

    def check(self, classifier, image, target: Optional[int] = None) -> MetricResult:
        """Run the test on one uint8 image as explained (``classifier.image_as_explained(path)``)."""
        return self.evaluate(None, classifier, image=image, target=target)


# -- the data randomisation test -----------------------------------------------------------------
class DataRandomizationCheck(Metric):
    """Adebayo et al.'s data (label) randomisation test.

    It needs two models of the same architecture trained the same way, one on the true labels
    and one on a random permutation of them (which it can only memorise). **The user supplies the
    training**: ``train_fn(shuffle_labels: bool) -> Classifier`` is called once with False and
    once with True. The images are explained with ``method_factory`` on both models, for the
    same target, and the maps compared.

    Parameters
    ----------
    method_factory : callable
        ``classifier -> method`` with ``.explain(image, target)``; fix its seed.
    train_fn : callable
        ``train_fn(shuffle_labels) -> Classifier``. For a fair test, use the same initialisation
        and schedule for both calls; only the labels should differ.
    similarity : str or sequence, default ('spearman', 'ssim')
        As in :class:`ModelParameterRandomization`; the first is the score.

    Notes
    -----
    ``evaluate(explanation=None, classifier=None, image=None, target=None, images=None,
    targets=None)``: one image (from the explanation, or ``image``) or a batch ``images``
    ``(N, H, W, 3)``. Targets default to the explanation's, else to the true-label model's top-1
    class of each image. ``score`` = the mean of the first similarity over the images where it is
    defined (lower = passes; a warning names undefined ones); ``details`` hold the per-image values of every similarity and the two models'
    probabilities of each target.
    """

    name = "data_randomization"
    applies_to = ("superpixel", "pixel")
    higher_is_better = False
    needs_model = False
    needs = ()
    description = "Adebayo et al. 2018: similarity of explanations of models trained on true vs shuffled labels"

    def __init__(self, method_factory: Callable, train_fn: Callable[[bool], object],
                 similarity=("spearman", "ssim")):
        self.method_factory = _check_factory(method_factory)
        if not callable(train_fn):
            raise TypeError("train_fn must be a callable: train_fn(shuffle_labels: bool) -> Classifier")
        self.train_fn = train_fn
        self.similarity = _check_similarity(similarity)

    def _train(self, shuffle: bool):
        from ..models.base import Classifier

        model = self.train_fn(shuffle)
        if not isinstance(model, Classifier):
            raise TypeError(f"train_fn({shuffle}) must return a paddlex_interpret Classifier, "
                            f"got {type(model).__name__}")
        return model

    def evaluate(self, explanation=None, classifier=None, image=None, target=None, images=None, targets=None,
                 **inputs) -> MetricResult:
        if inputs:
            raise TypeError(f"data_randomization got unexpected inputs {sorted(inputs)}")
        if images is not None:
            if image is not None or explanation is not None:
                raise ValueError("give either images=... or one image (explanation / image=), not both")
            batch = np.asarray(images)
            if batch.ndim == 3:
                batch = batch[None]
            if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8 or len(batch) == 0:
                raise ValueError(f"images must be uint8 RGB (N, H, W, 3); got {batch.dtype} {batch.shape}")
            if target is not None:
                raise ValueError("with images=..., give targets=[...] (one per image) or an int targets=")
        else:
            single, target = _image_and_target(explanation, image, target)
            batch, targets = single[None], (None if target is None else [target])
        if isinstance(targets, (int, np.integer)):
            targets = [int(targets)] * len(batch)
        if targets is not None and len(targets) != len(batch):
            raise ValueError(f"got {len(targets)} targets for {len(batch)} images")

        trained, shuffled = self._train(False), self._train(True)
        if targets is None:
            targets = np.argmax(trained.predict_proba(batch), axis=1)
        targets = [trained.check_class_index(int(t), "target") for t in targets]
        p_true = trained.predict_proba(batch)
        p_shuf = shuffled.predict_proba(batch)

        values = {s: [] for s in self.similarity}
        for img, t in zip(batch, targets):
            a = _explain(self.method_factory, trained, img, t)
            b = _explain(self.method_factory, shuffled, img, t)
            for s in self.similarity:
                values[s].append(map_similarity(a, b, s))
        arrays = {s: np.asarray(v, dtype=np.float64) for s, v in values.items()}
        first = arrays[self.similarity[0]]
        score = _nanmean(first)
        if np.isnan(first).any():
            warnings.warn(f"the {self.similarity[0]} similarity is undefined (a constant map) for "
                          f"{int(np.isnan(first).sum())} of {len(first)} images; they are left out of the score",
                          RuntimeWarning, stacklevel=2)
        rows = np.arange(len(batch))
        details = {**arrays, "targets": np.asarray(targets), "probability_true_labels": p_true[rows, targets],
                   "probability_shuffled_labels": p_shuf[rows, targets], "similarity": list(self.similarity)}
        return MetricResult(name=self.name, score=score, higher_is_better=False, details=details)

    def check(self, images, targets=None) -> MetricResult:
        """Run the test on one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)`` (uint8, as explained)."""
        return self.evaluate(images=images, targets=targets)
