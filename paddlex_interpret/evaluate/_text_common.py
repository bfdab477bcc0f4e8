"""What the text metrics share: the token ranking an explanation gives, hiding tokens, batched scoring."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ..engine._validation import check_positive_int
from ..engine.explanation import TextExplanation
from ..models.base import BaseTextClassifier

__all__ = ["MASK_TOKENS", "LEVELS", "check_text_inputs", "token_ranking", "unit_ranking", "expand_keeps", "hide",
           "probabilities_of", "check_mask_token", "check_level"]

LEVELS = ("token", "word")

MASK_TOKENS = ("unk", "pad", "mask", "remove")


def check_mask_token(mask_token: str, argument: str = "mask_token") -> str:
    if mask_token not in MASK_TOKENS:
        raise ValueError(f"{argument} must be one of {MASK_TOKENS}, got {mask_token!r}")
    return mask_token


def check_text_inputs(explanation, classifier, metric: str):
    """The explanation and the text classifier, or errors saying what ``metric`` takes."""
    if not isinstance(explanation, TextExplanation):
        raise TypeError(f"{metric} scores text explanations (TextExplanation), got {type(explanation).__name__}")
    if not isinstance(classifier, BaseTextClassifier):
        raise TypeError(f"{metric} needs the explained text classifier (a TextClassifier: "
                        f"models.as_text_classifier(model, tokenizer)), got {type(classifier).__name__}")
    if not explanation.token_ids:
        raise ValueError(f"{metric}: the explanation has no tokens")
    if min(explanation.token_ids) < 0:
        raise ValueError(f"{metric}: the explanation's tokens are not one model's token ids (a consensus over "
                         "several models?); evaluate the explanation of each model with that model")
    return explanation, classifier


def token_ranking(explanation: TextExplanation, target: Optional[int] = None) -> np.ndarray:
    """Token positions, most important first: by decreasing weight for ``target`` (evidence for the
    class first; ties keep text order)."""
    w = np.asarray(explanation.weights_of(target), dtype=np.float64)
    w = np.where(np.isfinite(w), w, -np.inf)
    return np.argsort(-w, kind="stable")


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return level


def unit_ranking(explanation: TextExplanation, target: int, level: str):
    """``(order, members)``: the units (tokens, or words with all their tokens) most important first, and
    the token positions of each unit. Words are ranked by :meth:`TextExplanation.word_weights` (sum)."""
    n = explanation.num_tokens
    if level == "token":
        return token_ranking(explanation, target), [np.array([i]) for i in range(n)]
    w = explanation.word_weights(target)
    w = np.where(np.isfinite(w), w, -np.inf)
    owner = np.asarray(explanation.word_of_token)
    return np.argsort(-w, kind="stable"), [np.flatnonzero(owner == u) for u in range(len(w))]


def expand_keeps(keeps: np.ndarray, members, num_tokens: int) -> np.ndarray:
    """Unit keep-masks ``(rows, units)`` -> token keep-masks ``(rows, num_tokens)``."""
    out = np.ones((len(keeps), num_tokens), dtype=bool)
    for u, tokens in enumerate(members):
        out[:, tokens] = keeps[:, u:u + 1]
    return out


def hide(classifier: BaseTextClassifier, ids: Sequence[int], keep: np.ndarray, mask_token: str) -> List[int]:
    """``ids`` with the positions where ``keep`` is False hidden (replaced, or removed)."""
    ids = np.asarray(ids, dtype=np.int64)
    keep = np.asarray(keep, dtype=bool)
    if mask_token == "remove":
        return ids[keep].tolist()
    fill = {"unk": classifier.unk_token_id, "pad": classifier.pad_token_id, "mask": classifier.mask_token_id}[mask_token]
    if fill is None or (mask_token == "pad" and not classifier.has_pad_token):
        raise ValueError(f"mask_token={mask_token!r} needs a tokenizer with that token; use 'remove' or another of "
                         f"{MASK_TOKENS}")
    return np.where(keep, ids, int(fill)).tolist()


def probabilities_of(classifier: BaseTextClassifier, ids: Sequence[int], keeps: np.ndarray, target: int,
                     mask_token: str, batch_size: int) -> np.ndarray:
    """The target's probability on ``ids`` under each keep-mask (rows of ``keeps``), batched."""
    batch_size = check_positive_int(batch_size, "batch_size")
    texts = [hide(classifier, ids, k, mask_token) for k in keeps]
    pad_to = classifier.input_length(len(ids))
    out = [classifier.predict_proba(texts[i:i + batch_size], batch_size=batch_size, pad_to=pad_to)[:, target]
           for i in range(0, len(texts), batch_size)]
    return np.concatenate(out).astype(np.float64)
