"""MoRF and LeRF perturbation curves (Samek et al. 2017): remove the most (least) relevant pixels
first and follow the target's probability."""
from __future__ import annotations

from ._curves import CurveMetric

__all__ = ["Perturbation", "MoRF", "LeRF"]


class Perturbation(CurveMetric):
    """MoRF and/or LeRF curves of the target's probability.

    *MoRF* (most relevant first) removes pixels from the image in the explanation's order: a
    faithful explanation makes the probability fall fast, so a low area is good (MoRF is the same
    curve as deletion). *LeRF* (least relevant first) removes them in the reverse order: the
    probability should stay up, so a high area is good. x = fraction of pixels removed (0 to 1),
    areas by the trapezoid rule, in [0, 1].

    With the same fill and steps, the LeRF image after removing the least relevant fraction ``x``
    is the insertion image after inserting the most relevant ``1 - x``, so the LeRF area equals
    the insertion area (InterpretDL's "not equivalent" came from its percentile/tie handling).
    The two remain separate metrics because the literature reports them separately.

    Parameters are those of :class:`~paddlex_interpret.evaluate.deletion_insertion.DeletionInsertion`
    with ``mode`` in {'both', 'morf', 'lerf'}. 'both' returns one result named 'perturbation'
    with score ``LeRF - MoRF`` (the area between the perturbation curves, ABPC; higher is better)
    and details ``morf_score``, ``morf_fractions``, ``morf_probabilities``, ``lerf_...``.
    """

    name = "perturbation"
    higher_is_better = True
    description = "MoRF and LeRF AUCs of the target probability; score = LeRF - MoRF (ABPC)"
    curves = {"morf": False, "lerf": True}
    combined = ("lerf", "morf")


class MoRF(Perturbation):
    """MoRF AUC alone (lower is better); see :class:`Perturbation`."""

    name = "morf"
    higher_is_better = False
    description = "Area under the target probability, most relevant pixels removed first (lower is better)"
    fixed_mode = "morf"


class LeRF(Perturbation):
    """LeRF AUC alone (higher is better); see :class:`Perturbation`."""

    name = "lerf"
    higher_is_better = True
    description = "Area under the target probability, least relevant pixels removed first (higher is better)"
    fixed_mode = "lerf"
