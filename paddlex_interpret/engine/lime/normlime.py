"""NormLIME (Ahern et al. 2019) as PaddleX computes it: explain one image with LIME and the
global weights of :mod:`.normlime_dataset`.

:class:`NormLime` runs LIME on quickshift superpixels; each superpixel also gets the global weight
of its cluster for the class (NormLIME), and the product of both is PaddleX's "Combined" panel.
The result is a :class:`NormLimeResult` of three aligned
:class:`~paddlex_interpret.engine.explanation.SuperpixelExplanation` objects.
:func:`normlime_prior` turns global weights into the ``prior(image, segments, target)`` callable
that :class:`~paddlex_interpret.engine.lime.glime.GLime` takes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from ...priors.features import ClusterCache, load_prior
from ..explanation import SuperpixelExplanation
from .global_weights import GlobalWeights
from .lime_image import LimeImage, _check_image

__all__ = ["NormLime", "NormLimeResult", "normlime_prior"]


def normlime_prior(global_weights: GlobalWeights, stem, centres) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """``prior(image, segments, target)`` for :class:`GLime`: the global weight of each
    superpixel's cluster for ``target`` (clusters are computed once per image)."""
    clusters_of = ClusterCache(stem, centres)
    if np.asarray(centres).shape[0] != global_weights.num_clusters:
        raise ValueError(f"the global weights have {global_weights.num_clusters} clusters, "
                         f"the prior centres {np.asarray(centres).shape[0]}")

    def prior(image, segments, target):
        return global_weights.class_weights(target)[clusters_of(np.asarray(image), np.asarray(segments))]

    return prior


@dataclass
class NormLimeResult:
    """Three aligned explanations of one image (same image, segments, targets):

    * ``lime`` -- the LIME weights (method 'lime');
    * ``normlime`` -- each superpixel's global (NormLIME) weight (method 'normlime');
    * ``combined`` -- LIME weight x NormLIME weight (method 'normlime_combined'), PaddleX's
      "Combined" panel.
    """

    lime: SuperpixelExplanation
    normlime: SuperpixelExplanation
    combined: SuperpixelExplanation

    @property
    def image(self) -> np.ndarray:
        return self.lime.image

    @property
    def segments(self) -> np.ndarray:
        return self.lime.segments

    @property
    def targets(self) -> List[int]:
        return self.lime.targets

    @property
    def target(self) -> int:
        return self.lime.target

    @property
    def figure_path(self) -> Optional[str]:
        return self.normlime.figure_path

    @figure_path.setter
    def figure_path(self, value):
        for e in (self.lime, self.normlime, self.combined):
            e.figure_path = value

    def save(self, path) -> Dict[str, Path]:
        """Write the three explanations as ``<path>_lime.npz``, ``<path>_normlime.npz`` and
        ``<path>_combined.npz`` (``path`` without ``.npz``). Returns ``{part: path}``."""
        path = Path(path)
        base = path.with_name(path.name[:-4]) if path.suffix == ".npz" else path
        return {part: getattr(self, part).save(base.with_name(f"{base.name}_{part}.npz"))
                for part in ("lime", "normlime", "combined")}

    @classmethod
    def load(cls, path) -> "NormLimeResult":
        path = Path(path)
        base = path.with_name(path.name[:-4]) if path.suffix == ".npz" else path
        return cls(*(SuperpixelExplanation.load(base.with_name(f"{base.name}_{part}.npz"))
                     for part in ("lime", "normlime", "combined")))


class NormLime:
    """Explain an image with LIME and NormLIME's global weights.

    Parameters
    ----------
    classifier : Classifier
    global_weights : GlobalWeights or path
        From :func:`compute_global_weights` or :meth:`GlobalWeights.load`.
    assets_dir : path or None
        The prior asset folder (None: :func:`~paddlex_interpret.priors.ensure_prior_assets`).
    check : bool, default True
        Raise ValueError when the global weights are stale (other classes, class names or
        prior centres than ``classifier`` / the assets).
    **lime_params
        As :class:`LimeImage` (num_samples, batch_size, hide_color, segmentation, random_state, ...).
    """

    method = "normlime"

    def __init__(self, classifier, global_weights: Union[GlobalWeights, str, Path], assets_dir=None,
                 check: bool = True, prior=None, **lime_params):
        if not isinstance(global_weights, GlobalWeights):
            global_weights = GlobalWeights.load(global_weights)
        self.classifier = classifier
        self.global_weights = global_weights
        self.stem, self.centres = prior if prior is not None else load_prior(assets_dir)
        if check:
            problem = global_weights.mismatch(classifier, self.centres)
            if problem:
                raise ValueError(f"the NormLIME global weights are stale ({problem}); recompute them with "
                                 "compute_global_weights")
        self.lime = LimeImage(classifier, **lime_params)
        self._clusters = ClusterCache(self.stem, self.centres)

    def explain(self, image: np.ndarray, targets: Union[None, int, Sequence[int]] = None,
                top_k: int = 1) -> NormLimeResult:
        """Explain ``image`` (uint8 RGB at the classifier's geometry) for ``targets`` (default: the
        ``top_k`` most probable classes) -> :class:`NormLimeResult`."""
        image = _check_image(image)
        lime = self.lime.explain(image, targets=targets, top_k=top_k)
        clusters = self._clusters(lime.image, lime.segments)
        norm_w = {t: self.global_weights.class_weights(t)[clusters] for t in lime.targets}
        comb_w = {t: np.asarray(lime.weights[t], dtype=np.float64) * norm_w[t] for t in lime.targets}
        params = {**lime.params, "global_weights_algorithm": self.global_weights.algorithm,
                  "num_clusters": self.global_weights.num_clusters, "clusters": clusters.tolist()}
        common = dict(intercepts={}, scores={}, local_predictions={}, params=params, intervals={})
        normlime = dataclasses.replace(lime, method="normlime", weights=norm_w, **common)
        combined = dataclasses.replace(lime, method="normlime_combined", weights=comb_w, **common)
        return NormLimeResult(lime=lime, normlime=normlime, combined=combined)
