"""Deletion and insertion (Petsiuk et al. 2018, RISE): does the score fall (rise) fastest when the
pixels the explanation ranks first are removed (inserted)?"""
from __future__ import annotations

from ._curves import CurveMetric

__all__ = ["DeletionInsertion", "Deletion", "Insertion"]


class DeletionInsertion(CurveMetric):
    """Deletion and/or insertion curves of the target's probability.

    *Deletion* starts from the image and removes the most important pixels first; the area under
    the probability curve (x = fraction of pixels removed, 0 to 1) is low for a faithful
    explanation. *Insertion* starts from the fully removed image and puts the most important pixels
    back first; x = fraction inserted, and the area is high for a faithful explanation. Removed
    pixels take the ``fill``. Both areas are trapezoid sums over x in [0, 1], so they lie in [0, 1]
    (a probability of 1 throughout gives 1).

    Order: superpixel explanations go superpixel by superpixel by decreasing weight for the target
    (positive evidence first), grouped evenly into ``steps`` groups when there are more
    superpixels than ``steps``; pixel explanations rank pixels by the ranking map (``|a|`` summed
    over channels for ``(3, H, W)`` attributions) and go in ``steps`` equal-count steps. The x value
    of a step is the exact fraction of pixels removed (superpixels have unequal areas).

    Parameters
    ----------
    mode : {'both', 'deletion', 'insertion'}, default 'both'
        Which curves to compute. 'both' returns one :class:`MetricResult` named
        'deletion_insertion' whose score is ``insertion - deletion`` (higher is better, in [-1, 1])
        and whose details hold each curve under prefixed keys (``deletion_score``,
        ``deletion_fractions``, ``deletion_probabilities``, ``insertion_...``). A single mode
        returns that metric's result (``name`` 'deletion' or 'insertion', details ``fractions``,
        ``probabilities``). The registered :class:`Deletion` and :class:`Insertion` are these
        single modes.
    fill : 'grey' | 'blur' | 'mean' | number | (r, g, b) | uint8 image, default 'grey'
        What removed pixels become: grey 127 (InterpretDL), the image blurred by a Gaussian of
        ``sigma`` pixels (RISE's insertion start), the image's mean colour, a grey level 0-255,
        a colour, or a uint8 image of the explained image's size.
    sigma : float, default 10
        Blur width in pixels for ``fill='blur'``.
    steps : int or None, default 20
        Number of steps from nothing removed to everything removed (``steps + 1`` points per
        curve, fewer when there are fewer superpixels or pixels). ``None``: one step per
        superpixel, 20 for pixel maps (InterpretDL's default).
    limit_number_generated_samples : int, optional
        InterpretDL's name for ``steps``.
    batch_size : int, default 50
        Images per model pass; scores do not depend on it.
    return_images : bool, default False
        Also return the perturbed images (``images`` or ``<curve>_images``, uint8 ``(S, H, W, 3)``).
    progress : bool, default False
        Show a progress bar over the batches.

    Notes
    -----
    :meth:`evaluate` ``(explanation, classifier, target=None)`` runs ``classifier.predict_proba`` on
    the perturbed images (each distinct image once; 'both' shares the two end images) and scores the
    explained class (``target``: another class the explanation covers).
    """

    name = "deletion_insertion"
    higher_is_better = True
    description = ("Deletion and insertion AUCs of the target probability along the explanation's order; "
                   "score = insertion - deletion")
    curves = {"deletion": False, "insertion": True}
    combined = ("insertion", "deletion")


class Deletion(DeletionInsertion):
    """Deletion AUC alone (lower is better); see :class:`DeletionInsertion`."""

    name = "deletion"
    higher_is_better = False
    description = "Area under the target probability as the most important pixels are removed (lower is better)"
    fixed_mode = "deletion"


class Insertion(DeletionInsertion):
    """Insertion AUC alone (higher is better); see :class:`DeletionInsertion`."""

    name = "insertion"
    higher_is_better = True
    description = ("Area under the target probability as the most important pixels are put back into the "
                   "fully removed image (higher is better)")
    fixed_mode = "insertion"
