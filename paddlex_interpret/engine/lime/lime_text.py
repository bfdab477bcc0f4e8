"""LIME for text classifiers: hide tokens, watch the probabilities, fit a weighted linear model."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ...models.base import BaseTextClassifier
from .._text import encode_text
from .._validation import resolve_seed
from ..explanation import TextExplanation
from .local_model import SurrogateExplainer

__all__ = ["LimeText", "MASK_TOKENS"]

MASK_TOKENS = ("unk", "pad", "remove")


class LimeText(SurrogateExplainer):
    """Explain a text classifier's output by hiding tokens (LIME, Ribeiro et al. 2016).

    Sample 0 is the text itself. Each other sample hides ``k`` randomly chosen tokens, ``k``
    drawn uniformly from ``1..num_tokens`` (the sampling of the LIME reference implementation's
    text explainer), so near and far perturbations are both seen. Every token position is one
    feature: a word that occurs twice gets two weights. Samples are weighted by
    ``sqrt(exp(-d^2 / kernel_width^2))`` with ``d`` the cosine distance of the binary keep-vector
    to all-ones, and a Ridge(alpha=1) surrogate is fitted per class, as in the image LIME.

    Parameters
    ----------
    classifier : TextClassifier
    num_samples : int, default 1000
        Perturbed texts (the first is the text itself); at least 2.
    batch_size : int, default 50
        Texts per forward pass; memory is bounded by it, results do not depend on it.
    mask_token : {'unk', 'pad', 'remove'}, default 'unk'
        How a hidden token is hidden: replaced by the tokenizer's unknown token, replaced by the
        pad token (which the attention mask then hides; the other tokens keep their positions),
        or removed (the text closes up).
    kernel_width : float, default 0.25
    feature_selection : {'auto', 'highest_weights', 'forward_selection', 'none'}, default 'auto'
        Used only when ``num_features`` is smaller than the number of tokens.
    num_features : int or None, default None
        Tokens the surrogate may use; None uses all.
    random_state : int or None, default None
        Seed of the perturbations; None draws one, recorded in ``explanation.params``.
    progress : bool, default True
        Show a tqdm progress bar over the samples.
    """

    method = "lime_text"
    _progress_desc, _progress_unit = "LIME text", "text"

    def __init__(self, classifier: BaseTextClassifier, num_samples: int = 1000, batch_size: int = 50,
                 mask_token: str = "unk", kernel_width: float = 0.25, feature_selection: str = "auto",
                 num_features: Optional[int] = None, random_state: Optional[int] = None, progress: bool = True):
        if not isinstance(classifier, BaseTextClassifier):
            raise TypeError(f"classifier must be a paddlex_interpret TextClassifier (see as_text_classifier), "
                            f"got {type(classifier).__name__}")
        super().__init__(classifier, num_samples, batch_size, kernel_width, feature_selection, num_features,
                         random_state, progress)
        if mask_token not in MASK_TOKENS:
            raise ValueError(f"mask_token must be one of {MASK_TOKENS}, got {mask_token!r}")
        if mask_token == "unk" and classifier.unk_token_id is None:
            raise ValueError("mask_token='unk' needs a tokenizer with an unknown token; use 'pad' or 'remove'")
        if mask_token == "pad" and not classifier.has_pad_token:
            raise ValueError("mask_token='pad' needs a tokenizer with a pad token; use 'unk' or 'remove'")
        self.mask_token = mask_token

    def explain(self, text: str, targets: Union[None, int, Sequence[int]] = None, top_k: int = 1) -> TextExplanation:
        """Explain the classification of ``text``.

        Parameters
        ----------
        text : str
            The text; it must contain at least one token.
        targets : int, list of int or None, default None
            Classes to explain; None explains the ``top_k`` most probable classes.
        top_k : int, default 1
            Used when ``targets`` is None.
        """
        # the text itself is sample 0 of the perturbations: no separate prediction, and the classes
        # are chosen from it in _fit_surrogates (with the image LIME's checks, made here before any pass)
        tokens, token_ids, truncated = encode_text(self.classifier, text)
        n = len(token_ids)
        self._check_request(targets, top_k)  # fail before the forward passes
        seed = resolve_seed(self.random_state)
        masks = self._sample_masks(n, np.random.default_rng(seed))

        ids = np.asarray(token_ids, dtype=np.int64)
        pad_to = self.classifier.input_length(n)

        def predict(batch_masks):
            batch = self._perturbed(ids, batch_masks)
            return self.classifier.predict_proba(batch, batch_size=len(batch), pad_to=pad_to)

        classes, fits, probs = self._fit_surrogates(masks, predict, targets, top_k, seed)
        return TextExplanation(
            method=self.method, text=text, tokens=list(tokens), token_ids=[int(i) for i in token_ids],
            **self._per_class_results(classes, fits, probs),
            class_names=list(self.classifier.labels), class_probabilities=probs[0].copy(),
            params={**self.params(seed), "truncated": truncated},
        )

    def params(self, seed: int) -> Dict[str, Any]:
        """The run's parameters, as recorded in ``explanation.params``."""
        return {**self._surrogate_params(seed), "mask_token": self.mask_token}

    # -- internals ------------------------------------------------------------------------------
    def _sample_masks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(num_samples, n)`` uint8 keep-masks; row 0 keeps everything."""
        hidden = rng.integers(1, n + 1, size=self.num_samples)  # tokens hidden per sample
        ranks = rng.random((self.num_samples, n)).argsort(axis=1).argsort(axis=1)
        masks = (ranks >= hidden[:, None]).astype(np.uint8)
        masks[0] = 1
        return masks

    def _perturbed(self, ids: np.ndarray, masks: np.ndarray) -> List[List[int]]:
        """The token ids of a batch of keep-masks (one select for the whole batch when tokens are replaced)."""
        keep = masks.astype(bool)
        if self.mask_token == "remove":
            return [ids[row].tolist() for row in keep]
        fill = self.classifier.unk_token_id if self.mask_token == "unk" else self.classifier.pad_token_id
        return np.where(keep, ids[None, :], fill).tolist()
