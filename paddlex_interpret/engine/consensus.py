"""Consensus (Li et al. 2021): one explanation method over several models, normalised and averaged."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from ..models.base import Classifier
from .explanation import PixelExplanation
from .maps import importance_map

__all__ = ["Consensus", "NORMALIZATIONS"]

NORMALIZATIONS = ("max", "sum", "none")


class Consensus:
    """Explain the same image with ``method`` under every classifier and average the maps.

    Parameters
    ----------
    method : class
        An explanation method class of :mod:`paddlex_interpret.engine` (e.g. ``SmoothGrad``,
        ``GradCAM``, ``LimeImage``); it is built once per classifier with ``method_params``.
    classifiers : sequence of Classifier
        The models. The image is explained at the first model's geometry and fed to all of them
        (each applies its own normalisation), so every network must accept that size.
    normalize : {'max', 'sum', 'none'}, default 'max'
        Scaling of each model's non-negative map before averaging (|attribution| summed over
        channels for gradient methods, the absolute-mean InterpretDL suggests): by its maximum,
        by its sum, or not at all.
    **method_params
        Passed to ``method``.
    """

    method = "consensus"

    def __init__(self, method, classifiers: Sequence[Classifier], normalize: str = "max", **method_params):
        if isinstance(classifiers, (Classifier, str, bytes)) or not hasattr(classifiers, "__iter__"):
            raise TypeError(f"classifiers must be a list of Classifier objects (for one model pass [classifier]), "
                            f"got {type(classifiers).__name__}")
        if not callable(method):
            raise TypeError(f"method must be an explanation method class of paddlex_interpret.engine, got {method!r}")
        classifiers = list(classifiers)
        if len(classifiers) < 1:
            raise ValueError("classifiers must hold at least one model")
        for i, c in enumerate(classifiers):
            if not isinstance(c, Classifier):
                raise TypeError(f"classifiers[{i}] must be a Classifier, got {type(c).__name__}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.classifiers, self.normalize, self.method_params = classifiers, normalize, method_params
        self.engines = [method(c, **method_params) for c in classifiers]
        self.inner_method = getattr(method, "method", method.__name__)

    def explain(self, image: np.ndarray, targets: Optional[Sequence[Optional[int]]] = None) -> PixelExplanation:
        """Explain ``image`` (uint8, first model's geometry). ``targets``: one class per model or
        None for each model's own top-1. The per-model maps are kept in ``extras['per_model']``."""
        if targets is None:
            targets = [None] * len(self.engines)
        if len(targets) != len(self.engines):
            raise ValueError(f"targets must give one class per model ({len(self.engines)}), got {len(targets)}")
        per_model, explanations = [], []
        for engine, target in zip(self.engines, targets):
            exp = engine.explain(image, target)  # LimeImage and AttributionMethod both take (image, target)
            explanations.append(exp)
            s = importance_map(exp, "positive", channels="abs_sum")
            scale = {"max": s.max(), "sum": s.sum(), "none": 1.0}[self.normalize]
            per_model.append(s / scale if scale > 0 else s)
        per_model = np.stack(per_model)
        first = explanations[0]
        return PixelExplanation(
            method=self.method, image=first.image, attribution=per_model.mean(axis=0), target=first.target,
            label_name=first.label_name, probability=first.probability,
            params=self.params(explanations),
            extras={"per_model": per_model, "targets": np.array([e.target for e in explanations]),
                    "probabilities": np.array([e.probability for e in explanations])},
        )

    def params(self, explanations) -> Dict[str, Any]:
        return {"inner_method": self.inner_method, "normalize": self.normalize, "num_models": len(self.engines),
                "label_names": [e.label_name for e in explanations],
                "inner_params": [e.params for e in explanations]}
