"""LIME for text classifiers: hide tokens, watch the probabilities, fit a weighted linear model."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm.auto import tqdm

from ..engine._validation import check_positive_int, resolve_seed
from ..engine.explanation import SurrogateResults, _read_npz, _write_npz
from ..engine.lime.local_model import check_surrogate_params, cosine_distance_to_original, exponential_kernel, \
    fit_local_model
from .classifier import TextClassifier

__all__ = ["LimeText", "TextExplanation", "TokenWeight", "MASK_TOKENS"]

MASK_TOKENS = ("unk", "pad", "remove")


class TokenWeight(NamedTuple):
    """One token of an explained text: its position, text and LIME weight."""

    position: int
    token: str
    weight: float


@dataclass
class TextExplanation(SurrogateResults):
    """Per-token LIME weights for one text and one or more classes.

    Attributes
    ----------
    method : str
        ``'lime_text'``.
    text : str
        The explained text.
    tokens : list of str
        The tokens the weights belong to (special tokens excluded), in text order.
    token_ids : list of int
        Their vocabulary ids.
    targets : list of int
        Explained classes, first = primary (the top-1 class unless the caller chose one).
    weights : dict int -> ndarray (num_tokens,)
        Surrogate weight of each token position for each explained class: positive means the
        token raises the class probability, negative that it lowers it.
    label_names, probabilities, intercepts, scores, local_predictions : dict int -> value
        Per explained class: name, model probability on the text, surrogate intercept, weighted
        R^2 of the local fit and the surrogate's value at the text.
    class_names : list of str
        Names of all the model's classes.
    class_probabilities : ndarray (num_classes,)
        The model's probabilities of all classes on the text.
    params : dict
        Every parameter of the run, including the seed actually used (``'random_state'``).
    html_path : str or None
        The HTML page written by :func:`paddlex_interpret.interpret.lime_text`, if any.
    """

    method: str
    text: str
    tokens: List[str]
    token_ids: List[int]
    targets: List[int]
    weights: Dict[int, np.ndarray]
    label_names: Dict[int, str]
    probabilities: Dict[int, float]
    intercepts: Dict[int, float] = field(default_factory=dict)
    scores: Dict[int, float] = field(default_factory=dict)
    local_predictions: Dict[int, float] = field(default_factory=dict)
    class_names: List[str] = field(default_factory=list)
    class_probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    params: Dict[str, Any] = field(default_factory=dict)
    html_path: Optional[str] = None

    # -- views on the primary class (target, label_name, probability, score: SurrogateResults) ---
    @property
    def intercept(self) -> float:
        return self.intercepts.get(self.target, float("nan"))

    @property
    def seed(self) -> Optional[int]:
        """The seed the perturbations were drawn with (pass it as ``random_state`` to repeat)."""
        return self.params.get("random_state")

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def predicted_class(self) -> int:
        """The model's most probable class on the text."""
        return int(np.argmax(self.class_probabilities))

    @property
    def predicted_label(self) -> str:
        c = self.predicted_class
        return self.class_names[c] if c < len(self.class_names) else str(c)

    def top_tokens(self, target: Optional[int] = None, k: Optional[int] = 5,
                   absolute: bool = False) -> List[TokenWeight]:
        """The ``k`` tokens that speak most for ``target``.

        Parameters
        ----------
        target : int, optional
            An explained class; default the primary one.
        k : int or None, default 5
            How many; None returns every token.
        absolute : bool, default False
            Rank by ``|weight|`` (for or against the class) instead of by weight.

        Returns
        -------
        list of TokenWeight
            ``(position, token, weight)`` tuples, best first; ties keep text order.
        """
        w = np.asarray(self.weights_of(target), dtype=np.float64)
        order = np.argsort(-(np.abs(w) if absolute else w), kind="stable")
        if k is not None:
            order = order[:check_positive_int(k, "k")]
        return [TokenWeight(int(i), self.tokens[i], float(w[i])) for i in order]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle). Returns the path written."""
        meta = {"kind": "text", "method": self.method, "text": self.text, "tokens": list(self.tokens),
                **self._per_class_meta(), "class_names": list(self.class_names), "params": self.params,
                "html_path": self.html_path}
        return _write_npz(path, meta, token_ids=np.asarray(self.token_ids, dtype=np.int64),
                          class_probabilities=np.asarray(self.class_probabilities, dtype=np.float64),
                          **self._weight_arrays())

    @classmethod
    def load(cls, path) -> "TextExplanation":
        """Read a file written by :meth:`save`."""
        meta, data = _read_npz(path, "text")
        return cls(method=meta["method"], text=meta["text"], tokens=list(meta["tokens"]),
                   token_ids=[int(i) for i in data["token_ids"]], **cls._per_class_fields(meta, data),
                   class_names=list(meta["class_names"]), class_probabilities=data["class_probabilities"],
                   params=meta["params"], html_path=meta["html_path"])


class LimeText:
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

    def __init__(self, classifier: TextClassifier, num_samples: int = 1000, batch_size: int = 50,
                 mask_token: str = "unk", kernel_width: float = 0.25, feature_selection: str = "auto",
                 num_features: Optional[int] = None, random_state: Optional[int] = None, progress: bool = True):
        if not isinstance(classifier, TextClassifier):
            raise TypeError(f"classifier must be a paddlex_interpret TextClassifier (see as_text_classifier), "
                            f"got {type(classifier).__name__}")
        self.classifier = classifier
        self.num_samples = check_positive_int(num_samples, "num_samples", minimum=2)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if mask_token not in MASK_TOKENS:
            raise ValueError(f"mask_token must be one of {MASK_TOKENS}, got {mask_token!r}")
        if mask_token == "unk" and classifier.unk_token_id is None:
            raise ValueError("mask_token='unk' needs a tokenizer with an unknown token; use 'pad' or 'remove'")
        if mask_token == "pad" and not classifier._has_pad:
            raise ValueError("mask_token='pad' needs a tokenizer with a pad token; use 'unk' or 'remove'")
        self.mask_token = mask_token
        self.kernel_width, self.feature_selection, self.num_features = check_surrogate_params(
            kernel_width, feature_selection, num_features)
        self.random_state = random_state
        self.progress = progress

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
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("text is empty (or only whitespace); give the text to explain")
        tokens, token_ids, truncated = self.classifier._tokenize(text)
        n = len(token_ids)
        if n == 0:
            raise ValueError(f"text {text!r} gives no tokens with this tokenizer")
        self._check_targets_or_top_k(targets, top_k)  # fail before the forward passes
        seed = resolve_seed(self.random_state)
        masks = self._sample_masks(n, np.random.default_rng(seed))

        ids = np.asarray(token_ids, dtype=np.int64)
        pad_to = self.classifier.input_length(n)
        probs = np.empty((self.num_samples, self.classifier.num_classes), dtype=np.float64)
        with tqdm(total=self.num_samples, desc="LIME text", unit="text", disable=not self.progress,
                  leave=False) as bar:
            for start in range(0, self.num_samples, self.batch_size):
                batch = [self._perturb(ids, m) for m in masks[start:start + self.batch_size]]
                probs[start:start + len(batch)] = self.classifier.predict_proba(batch, batch_size=len(batch),
                                                                                 pad_to=pad_to)
                bar.update(len(batch))

        chosen = self._resolve_targets(targets, top_k, probs[0])
        kernel = exponential_kernel(cosine_distance_to_original(masks), self.kernel_width)
        X = masks.astype(np.float64)
        fits = {t: fit_local_model(X, probs[:, t], kernel, self.num_features, self.feature_selection,
                                   random_state=seed) for t in chosen}
        return TextExplanation(
            method=self.method,
            text=text,
            tokens=list(tokens),
            token_ids=[int(i) for i in token_ids],
            targets=list(chosen),
            weights={t: f.weights for t, f in fits.items()},
            label_names={t: self.classifier.label_name(t) for t in chosen},
            probabilities={t: float(probs[0, t]) for t in chosen},
            intercepts={t: f.intercept for t, f in fits.items()},
            scores={t: f.score for t, f in fits.items()},
            local_predictions={t: f.local_prediction for t, f in fits.items()},
            class_names=list(self.classifier.labels),
            class_probabilities=probs[0].copy(),
            params={**self.params(seed), "truncated": truncated},
        )

    def params(self, seed: int) -> Dict[str, Any]:
        """The run's parameters, as recorded in ``explanation.params``."""
        return {"num_samples": self.num_samples, "batch_size": self.batch_size, "mask_token": self.mask_token,
                "kernel_width": self.kernel_width, "feature_selection": self.feature_selection,
                "num_features": self.num_features, "random_state": seed}

    # -- internals ------------------------------------------------------------------------------
    def _sample_masks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(num_samples, n)`` uint8 keep-masks; row 0 keeps everything."""
        hidden = rng.integers(1, n + 1, size=self.num_samples)  # tokens hidden per sample
        ranks = rng.random((self.num_samples, n)).argsort(axis=1).argsort(axis=1)
        masks = (ranks >= hidden[:, None]).astype(np.uint8)
        masks[0] = 1
        return masks

    def _perturb(self, ids: np.ndarray, keep: np.ndarray) -> List[int]:
        if self.mask_token == "remove":
            return ids[keep.astype(bool)].tolist()
        fill = self.classifier.unk_token_id if self.mask_token == "unk" else self.classifier.pad_token_id
        return np.where(keep.astype(bool), ids, fill).tolist()

    def _check_targets(self, targets) -> Tuple[int, ...]:
        if isinstance(targets, (int, np.integer)) and not isinstance(targets, (bool, np.bool_)):
            targets = [targets]
        if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
            raise TypeError(f"target must be an int class index or a list of them, got {targets!r}")
        checked = tuple(self.classifier.check_class_index(t, "target") for t in targets)
        if not checked:
            raise ValueError("target must name at least one class")
        return tuple(dict.fromkeys(checked))

    def _check_targets_or_top_k(self, targets, top_k) -> None:
        if targets is not None:
            self._check_targets(targets)
            return
        k = check_positive_int(top_k, "top_k")
        if k > self.classifier.num_classes:
            raise ValueError(f"top_k={k} exceeds the number of classes ({self.classifier.num_classes})")

    def _resolve_targets(self, targets, top_k, original_probs) -> Tuple[int, ...]:
        if targets is not None:
            return self._check_targets(targets)
        return tuple(int(i) for i in np.argsort(-original_probs, kind="stable")[:int(top_k)])
