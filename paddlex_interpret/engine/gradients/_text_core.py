"""What the gradient methods on token embeddings share (Integrated Gradients, SmoothGrad and
GradientSHAP for text): the text as the model sees it, baseline sequences, the batched gradient
loop w.r.t. the embedding layer's output, the per-token reduction and the explanation they build.

The model is reached only through :class:`~paddlex_interpret.models.base.BaseTextClassifier`:
``input_embeddings`` (the embedding layer's output, no gradient) and ``embedding_forward`` (logits
with that output replaced by given embeddings, through a forward post-hook removed at once).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from ...models.base import BaseTextClassifier
from .._text import EncodedText, encode_text, predict_text
from .._validation import check_positive_int, resolve_seed
from ..explanation import TextExplanation
from ._core import check_gradient_of, check_noise_amount, objective, sample_rng

__all__ = ["TEXT_BASELINES", "REDUCTIONS", "TextInput", "TextGradientMethod", "check_text_baseline",
           "reduce_tokens", "sample_rng", "check_noise_amount"]

#: a reference sequence keeping the special tokens with [PAD] / [UNK] / [MASK] for every content
#: token, or zero embeddings everywhere
TEXT_BASELINES = ("pad", "unk", "mask", "zero")
REDUCTIONS = ("sum", "l2")


def check_text_baseline(baseline, classifier: BaseTextClassifier, argument: str = "baseline") -> str:
    """A valid baseline name that the tokenizer supports; an error naming ``argument`` otherwise."""
    if not isinstance(baseline, str) or baseline not in TEXT_BASELINES:
        raise ValueError(f"{argument} must be one of {TEXT_BASELINES}, got {baseline!r}")
    need = {"pad": "pad_token_id", "unk": "unk_token_id", "mask": "mask_token_id"}.get(baseline)
    if need is not None and (getattr(classifier, need, None) is None
                             or (baseline == "pad" and not getattr(classifier, "has_pad_token", False))):
        raise ValueError(f"{argument}={baseline!r} needs a tokenizer with a [{baseline.upper()}] token; "
                         f"this one has none: use one of {[b for b in TEXT_BASELINES if b != baseline]}")
    return baseline


def check_reduction(reduction) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce_tokens(attribution: np.ndarray, reduction: str) -> np.ndarray:
    """``(L, H)`` -> ``(L,)``: the sum over the hidden dimension (signed) or its L2 norm (>= 0)."""
    if reduction == "sum":
        return attribution.sum(axis=-1)
    return np.sqrt((attribution ** 2).sum(axis=-1))


class TextInput:
    """One text as the model sees it: tokens, content ids, embeddings of the full model input and the
    position of the content tokens in it."""

    def __init__(self, classifier: BaseTextClassifier, text: str, encoded: Optional[EncodedText] = None):
        """``encoded``: the text's :func:`~.._text.encode_text` when already made (else it is made here)."""
        if encoded is None:
            encoded = encode_text(classifier, text)
        self.text = text
        self.tokens, self.ids, self.truncated = list(encoded.tokens), list(encoded.ids), encoded.truncated
        n = len(self.ids)
        self.start = classifier.content_start(n)
        self.content = slice(self.start, self.start + n)
        self.embeddings = classifier.input_embeddings([self.ids])[0]  # (L, H)
        self.length = self.embeddings.shape[0]
        self.offsets = classifier.token_offsets(text, self.tokens)

    def baseline(self, classifier: BaseTextClassifier, name: str) -> np.ndarray:
        """``(L, H)`` embeddings of the baseline ``name`` (see :data:`TEXT_BASELINES`)."""
        if name == "zero":
            return np.zeros_like(self.embeddings)
        fill = {"pad": classifier.pad_token_id, "unk": classifier.unk_token_id, "mask": classifier.mask_token_id}[name]
        return classifier.input_embeddings([[int(fill)] * len(self.ids)])[0]


# make_points(js) -> (points (len(js), L, H) float32, factors (len(js), L, H) or None)
MakePoints = Callable[[np.ndarray], Tuple[np.ndarray, Optional[np.ndarray]]]


def embedding_gradients(classifier: BaseTextClassifier, ids: Sequence[int], points: np.ndarray, target: int,
                        gradient_of: str) -> Tuple[np.ndarray, np.ndarray]:
    """Gradients ``(n, L, H)`` of the objective w.r.t. the embedding-layer outputs ``points`` of the
    sequence ``ids`` (repeated), and the objective values ``(n,)``. Leaves nothing on the parameters."""
    with paddle.enable_grad():  # also inside a caller's paddle.no_grad(); the caller's state comes back on exit
        emb = paddle.to_tensor(np.ascontiguousarray(points, dtype=np.float32), stop_gradient=False)
        t = paddle.to_tensor(np.full(len(points), int(target), dtype=np.int64))
        logits = classifier.embedding_forward([list(ids)] * len(points), emb)
        value = objective(classifier, logits, t, gradient_of)
        (grad,) = paddle.grad(value.sum(), [emb], retain_graph=False, create_graph=False)
    return grad.numpy().astype(np.float64), value.numpy().astype(np.float64)


def accumulate(classifier: BaseTextClassifier, ids: Sequence[int], target: int, n: int, batch_size: int,
               gradient_of: str, make_points: MakePoints, progress=None) -> np.ndarray:
    """Sum over ``j < n`` of ``grad(points_j) * factors_j`` (float64 ``(L, H)``), ``batch_size`` points
    per forward/backward pass."""
    total = None
    for start in range(0, n, batch_size):
        js = np.arange(start, min(start + batch_size, n))
        points, factors = make_points(js)
        grads, _ = embedding_gradients(classifier, ids, points, target, gradient_of)
        if factors is not None:
            grads *= factors
        part = grads.sum(axis=0)
        total = part if total is None else total + part
        if progress is not None:
            progress.update(len(js))
    return total


def objective_values(classifier: BaseTextClassifier, ids: Sequence[int], embeddings: np.ndarray, target: int,
                     gradient_of: str) -> np.ndarray:
    """The objective at each of ``embeddings`` ``(n, L, H)`` (no gradient kept)."""
    with paddle.no_grad():
        emb = paddle.to_tensor(np.ascontiguousarray(embeddings, dtype=np.float32))
        logits = classifier.embedding_forward([list(ids)] * len(embeddings), emb)
        t = paddle.to_tensor(np.full(len(embeddings), int(target), dtype=np.int64))
        return objective(classifier, logits, t, gradient_of).numpy().astype(np.float64)


class TextGradientMethod:
    """Base class of the text gradient methods: argument checks, targets, the seed, the progress bar
    and the :class:`TextExplanation`. Subclasses implement :meth:`_attribute` (``(L, H)`` float64
    attribution of one target) and :meth:`_method_params`."""

    method = "text_gradients"
    _progress_desc = "gradients"
    _record_name = "details"  # the key of params that holds the per-class records of _attribute

    def __init__(self, classifier: BaseTextClassifier, gradient_of: str, reduction: str, batch_size: int,
                 random_state: Optional[int], progress: bool):
        if not isinstance(classifier, BaseTextClassifier):
            raise TypeError(f"classifier must be a paddlex_interpret TextClassifier (see as_text_classifier), "
                            f"got {type(classifier).__name__}")
        reason = classifier.gradients_unavailable()
        if reason:
            raise TypeError(f"{self.method} needs gradients w.r.t. the token embeddings: {reason}. Black-box text "
                            "methods that work on any text model: lime_text, occlusion_text")
        self.classifier = classifier
        self.gradient_of = check_gradient_of(gradient_of)
        self.reduction = check_reduction(reduction)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if random_state is not None:
            resolve_seed(random_state)
        self.random_state = random_state
        if not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True or False, got {progress!r}")
        self.progress = bool(progress)

    # -- subclasses -------------------------------------------------------------------------------
    def _num_points(self) -> int:
        raise NotImplementedError

    def _attribute(self, inp: TextInput, target: int, seed: int, bar) -> Tuple[np.ndarray, dict]:
        """``((L, H) attribution, per-target record)``."""
        raise NotImplementedError

    def _method_params(self) -> dict:
        return {}

    def params(self, seed: int) -> dict:
        """The run's parameters, as recorded in ``explanation.params``."""
        return {**self._method_params(), "gradient_of": self.gradient_of, "reduction": self.reduction,
                "batch_size": self.batch_size, "random_state": seed}

    # -- the run ---------------------------------------------------------------------------------
    def explain(self, text: str, targets: Union[None, int, Sequence[int]] = None, top_k: int = 1) -> TextExplanation:
        """Explain the classification of ``text``.

        Parameters
        ----------
        text : str
            The text; it must give at least one token.
        targets : int, list of int or None, default None
            Classes to explain; None explains the ``top_k`` most probable classes.
        top_k : int, default 1
            Used when ``targets`` is None.
        """
        prediction = predict_text(self.classifier, text, targets, top_k)
        probs, classes = prediction.probs, prediction.classes
        inp = TextInput(self.classifier, text, prediction.encoded)
        seed = resolve_seed(self.random_state)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self._num_points() * len(classes), desc=self._progress_desc, unit="point")
        weights: Dict[int, np.ndarray] = {}
        records: Dict[str, dict] = {}
        special: Dict[str, float] = {}
        try:
            for c in classes:
                attribution, record = self._attribute(inp, c, seed, bar)
                per_token = reduce_tokens(attribution, self.reduction)
                weights[c] = per_token[inp.content].astype(np.float64)
                outside = np.ones(inp.length, dtype=bool)
                outside[inp.content] = False
                special[str(c)] = float(per_token[outside].sum())
                if record:
                    records[str(c)] = record
        finally:
            if bar is not None:
                bar.close()
        params = {**self.params(seed), "truncated": bool(inp.truncated), "special_tokens_attribution": special}
        if records:
            params[self._record_name] = records
        labels = list(self.classifier.labels)
        return TextExplanation(
            method=self.method, text=text, tokens=list(inp.tokens), token_ids=list(inp.ids), targets=classes,
            weights=weights, label_names={c: labels[c] for c in classes},
            probabilities={c: float(probs[c]) for c in classes}, class_names=labels,
            class_probabilities=np.asarray(probs, dtype=np.float64).copy(), params=params,
            offsets=None if inp.offsets is None else [tuple(o) for o in inp.offsets])
