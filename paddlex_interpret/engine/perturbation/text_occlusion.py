"""Occlusion for text classifiers: hide a window of tokens, watch the class probability drop."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ...models.base import BaseTextClassifier
from .._text import predict_text
from .._validation import check_positive_int
from ..explanation import TextExplanation

__all__ = ["TextOcclusion", "MASK_TOKENS"]

MASK_TOKENS = ("unk", "pad", "mask", "remove")


class TextOcclusion:
    """Per-token occlusion (Zeiler & Fergus 2014, on tokens): the drop of the class probability when a
    window of ``window`` consecutive tokens is hidden.

    Windows start at ``0, stride, 2 * stride, ...`` (the last one is moved back to end at the last
    token, so every token is covered). With ``p`` the target's probability on the text and
    ``p_w`` with window ``w`` hidden, each token's weight is the mean of ``p - p_w`` over the
    windows that cover it: positive means hiding it lowers the probability (it speaks for the
    class). ``window=1`` is leave-one-out; ``window=2, 3`` are bigram / trigram occlusion. All
    occluded texts go through the model ``batch_size`` at a time; the method is deterministic.

    Parameters
    ----------
    classifier : TextClassifier
    window : int, default 1
        Tokens hidden together (an n-gram); at most the number of tokens (larger is cut).
    stride : int, default 1
        Step between window starts.
    mask_token : {'unk', 'pad', 'mask', 'remove'}, default 'unk'
        A hidden token is replaced by the unknown token, by padding (hidden from attention; the
        other tokens keep their positions), by the mask token, or removed (the text closes up).
    batch_size : int, default 50
        Occluded texts per forward pass; results do not depend on it.
    progress : bool, default False
        A tqdm bar over the batches.
    """

    method = "occlusion_text"

    def __init__(self, classifier: BaseTextClassifier, window: int = 1, stride: int = 1, mask_token: str = "unk",
                 batch_size: int = 50, progress: bool = False):
        if not isinstance(classifier, BaseTextClassifier):
            raise TypeError(f"classifier must be a paddlex_interpret TextClassifier (see as_text_classifier), "
                            f"got {type(classifier).__name__}")
        self.classifier = classifier
        self.window = check_positive_int(window, "window")
        self.stride = check_positive_int(stride, "stride")
        if mask_token not in MASK_TOKENS:
            raise ValueError(f"mask_token must be one of {MASK_TOKENS}, got {mask_token!r}")
        need = {"unk": "unk_token_id", "mask": "mask_token_id"}.get(mask_token)
        if (need and getattr(classifier, need, None) is None) or (mask_token == "pad" and not classifier.has_pad_token):
            raise ValueError(f"mask_token={mask_token!r} needs a tokenizer with that token; use 'remove' or another "
                             f"of {MASK_TOKENS}")
        self.mask_token = mask_token
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = bool(progress)

    def params(self) -> Dict[str, Any]:
        """The run's parameters, as recorded in ``explanation.params``."""
        return {"window": self.window, "stride": self.stride, "mask_token": self.mask_token,
                "batch_size": self.batch_size}

    def windows(self, n: int) -> List[range]:
        """The token windows hidden for a text of ``n`` tokens."""
        size = min(self.window, n)
        starts = list(range(0, n - size + 1, self.stride))
        if starts[-1] + size < n:
            starts.append(n - size)
        return [range(s, s + size) for s in starts]

    def occluded(self, ids: Sequence[int], hidden) -> List[int]:
        """``ids`` with the positions ``hidden`` hidden by ``mask_token``."""
        hidden = set(hidden)
        if self.mask_token == "remove":
            return [t for i, t in enumerate(ids) if i not in hidden]
        fill = {"unk": self.classifier.unk_token_id, "pad": self.classifier.pad_token_id,
                "mask": self.classifier.mask_token_id}[self.mask_token]
        return [int(fill) if i in hidden else int(t) for i, t in enumerate(ids)]

    def explain(self, text: str, targets: Union[None, int, Sequence[int]] = None, top_k: int = 1) -> TextExplanation:
        """Explain the classification of ``text`` (``targets`` / ``top_k`` as in the other text methods)."""
        tokens, ids, truncated, probs, classes = predict_text(self.classifier, text, targets, top_k)
        n = len(ids)
        windows = self.windows(n)
        texts = [self.occluded(ids, w) for w in windows]
        pad_to = self.classifier.input_length(n)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="occlusion text", unit="text")
        chunks = []
        try:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start:start + self.batch_size]
                chunks.append(self.classifier.predict_proba(batch, batch_size=len(batch), pad_to=pad_to))
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        occluded = np.concatenate(chunks)
        cover = np.zeros((len(windows), n), dtype=np.float64)
        for row, w in enumerate(windows):
            cover[row, list(w)] = 1.0
        counts = cover.sum(axis=0)
        weights = {c: (cover * (probs[c] - occluded[:, c])[:, None]).sum(axis=0) / counts for c in classes}
        labels = list(self.classifier.labels)
        offsets = self.classifier.token_offsets(text, tokens)
        return TextExplanation(
            method=self.method, text=text, tokens=[str(t) for t in tokens], token_ids=[int(i) for i in ids],
            targets=classes, weights=weights, label_names={c: labels[c] for c in classes},
            probabilities={c: float(probs[c]) for c in classes}, class_names=labels,
            class_probabilities=np.asarray(probs, dtype=np.float64).copy(),
            params={**self.params(), "truncated": bool(truncated), "num_windows": len(windows)},
            offsets=None if offsets is None else [tuple(o) for o in offsets])
