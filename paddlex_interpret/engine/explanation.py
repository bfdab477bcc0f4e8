"""Explanation result types (superpixel, pixel and text explanations): what figures, evaluators and a
GUI need, savable without pickle."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .._home import _json_default  # noqa: F401  (the JSON encoder of every .npz meta; others import it from here)
from ._validation import check_positive_int
from .maps import CHANNEL_REDUCTIONS, importance_map

__all__ = ["SuperpixelExplanation", "PixelExplanation", "TextExplanation", "TokenWeight", "WordWeight",
           "load_explanation"]

_FORMAT_VERSION = 1


class SurrogateResults:
    """What LIME-family explanations (images and text) share: per explained class a weight
    vector and the local fit's results, views on the primary (first) class, and their storage.

    Subclasses are dataclasses with the fields ``targets``, ``weights``, ``label_names``,
    ``probabilities``, ``intercepts``, ``scores`` and ``local_predictions``.
    """

    @property
    def target(self) -> int:
        return self.targets[0]

    @property
    def label_name(self) -> str:
        return self.label_names[self.target]

    @property
    def probability(self) -> float:
        return self.probabilities[self.target]

    @property
    def score(self) -> float:
        """Weighted R^2 of the local fit for the primary class."""
        return self.scores.get(self.target, float("nan"))

    def weights_of(self, target: Optional[int] = None) -> np.ndarray:
        """The weights of ``target`` (default: the primary class)."""
        target = self.target if target is None else int(target)
        if target not in self.weights:
            raise KeyError(f"class {target} was not explained; explained classes: {self.targets}")
        return self.weights[target]


    def _per_class_meta(self) -> dict:
        """The per-class results as JSON metadata (class keys as strings)."""
        return {
            "targets": [int(t) for t in self.targets],
            "label_names": {str(k): v for k, v in self.label_names.items()},
            "probabilities": {str(k): float(v) for k, v in self.probabilities.items()},
            "intercepts": {str(k): float(v) for k, v in self.intercepts.items()},
            "scores": {str(k): float(v) for k, v in self.scores.items()},
            "local_predictions": {str(k): float(v) for k, v in self.local_predictions.items()},
        }

    def _weight_arrays(self) -> dict:
        return {f"weights_{t}": np.asarray(w, dtype=np.float64) for t, w in self.weights.items()}

    @staticmethod
    def _per_class_fields(meta: dict, data) -> dict:
        """Constructor arguments read back from :meth:`_per_class_meta` and :meth:`_weight_arrays`."""
        return dict(targets=[int(t) for t in meta["targets"]],
                    weights={int(t): data[f"weights_{t}"] for t in meta["targets"]},
                    label_names=_int_keys(meta["label_names"]), probabilities=_int_keys(meta["probabilities"]),
                    intercepts=_int_keys(meta["intercepts"]), scores=_int_keys(meta["scores"]),
                    local_predictions=_int_keys(meta["local_predictions"]))


@dataclass
class SuperpixelExplanation(SurrogateResults):
    """Per-superpixel weights for one image and one or more classes (LIME-family methods).

    Attributes
    ----------
    method : str
        Algorithm name, e.g. ``'lime'``.
    image : ndarray (H, W, 3) uint8
        The image as explained (after resize/crop).
    segments : ndarray (H, W) int32
        Superpixel id of every pixel, ``0..num_superpixels-1``.
    targets : list of int
        Explained classes, first = primary (the top-1 class unless the caller chose one).
    weights : dict int -> ndarray (num_superpixels,)
        Surrogate weight of each superpixel for each explained class.
    label_names, probabilities, intercepts, scores, local_predictions : dict int -> value
        Per explained class: name, model probability on the unperturbed image, surrogate
        intercept, weighted R^2 of the local fit, and the surrogate's value at the image.
    params : dict
        Every parameter of the run, including the seed actually used (and, for
        ``num_samples='auto'``, ``samples_used``, ``stability`` and ``stability_reached``).
    figure_path : str or None
        The figure written by the task API, if any.
    intervals : dict int -> ndarray (num_superpixels, 2)
        95% bootstrap interval of each weight (30 refits on resampled samples); see
        :meth:`confidence_intervals`.
    """

    method: str
    image: np.ndarray
    segments: np.ndarray
    targets: List[int]
    weights: Dict[int, np.ndarray]
    label_names: Dict[int, str]
    probabilities: Dict[int, float]
    intercepts: Dict[int, float] = field(default_factory=dict)
    scores: Dict[int, float] = field(default_factory=dict)
    local_predictions: Dict[int, float] = field(default_factory=dict)
    params: Dict[str, Any] = field(default_factory=dict)
    figure_path: Optional[str] = None
    intervals: Dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def num_superpixels(self) -> int:
        return int(self.segments.max()) + 1

    def ranked_superpixels(self, target: Optional[int] = None, positive_only: bool = False) -> np.ndarray:
        """Superpixel ids ordered by decreasing weight (by decreasing |weight| unless positive_only)."""
        w = self.weights_of(target)
        if positive_only:
            ids = np.flatnonzero(w > 0)
            return ids[np.argsort(-w[ids], kind="stable")]
        return np.argsort(-np.abs(w), kind="stable")

    def pixel_map(self, target: Optional[int] = None) -> np.ndarray:
        """The weights painted onto pixels: ``(H, W)`` float array (:func:`~.maps.importance_map`, signed)."""
        return importance_map(self, "signed", target=target)

    def confidence_intervals(self, target: Optional[int] = None) -> np.ndarray:
        """``(num_superpixels, 2)``: the 95% bootstrap interval (low, high) of each superpixel's weight.

        KeyError for a class that was not explained or an explanation without intervals (loaded from a
        file written before they existed, or a NormLIME / combined weight, which is not a fit)."""
        target = self.target if target is None else int(target)
        if target not in self.intervals:
            raise KeyError(f"no confidence intervals for class {target} in this {self.method} explanation")
        return self.intervals[target]

    # -- persistence --------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle). Returns the path written."""
        meta = {"kind": "superpixel", "method": self.method, **self._per_class_meta(), "params": self.params,
                "figure_path": self.figure_path, "intervals": sorted(int(t) for t in self.intervals)}
        intervals = {f"intervals_{t}": np.asarray(v, dtype=np.float64) for t, v in self.intervals.items()}
        return _write_npz(path, meta, image=self.image, segments=self.segments, **self._weight_arrays(), **intervals)

    @classmethod
    def load(cls, path) -> "SuperpixelExplanation":
        """Read a file written by :meth:`save`."""
        meta, data = _read_npz(path, "superpixel")
        return cls(method=meta["method"], image=data["image"], segments=data["segments"],
                   **cls._per_class_fields(meta, data), params=meta["params"], figure_path=meta["figure_path"],
                   intervals={int(t): data[f"intervals_{t}"] for t in meta.get("intervals", [])})


def _int_keys(d):
    return {int(k): v for k, v in d.items()}


@dataclass
class PixelExplanation:
    """A per-pixel attribution map for one image and one class (gradient, CAM, occlusion, LRP).

    Attributes
    ----------
    method : str
        Algorithm name, e.g. ``'smoothgrad'``.
    image : ndarray (H, W, 3) uint8
        The image as explained (after resize/crop).
    attribution : ndarray (3, H, W) or (H, W)
        Raw attribution, in the network's input space for gradient methods (channel first) or
        one value per pixel for CAM and occlusion maps.
    target, label_name, probability
        The explained class, its name and the model's probability on the image.
    params : dict
        Every parameter of the run, including the seed actually used.
    extras : dict str -> ndarray
        Method-specific arrays (e.g. per-model maps of a consensus).
    figure_path : str or None
    """

    method: str
    image: np.ndarray
    attribution: np.ndarray
    target: int
    label_name: str
    probability: float
    params: Dict[str, Any] = field(default_factory=dict)
    extras: Dict[str, np.ndarray] = field(default_factory=dict)
    figure_path: Optional[str] = None

    @property
    def targets(self) -> List[int]:
        return [self.target]

    def saliency(self, reduce: str = "abs_sum") -> np.ndarray:
        """``(H, W)`` map: channels reduced by 'abs_sum' (default), 'sum', 'abs_max' or 'l2'
        (:func:`~.maps.importance_map` with ``channels=reduce``)."""
        if reduce not in CHANNEL_REDUCTIONS:
            raise ValueError(f"reduce must be one of 'abs_sum', 'sum', 'abs_max', 'l2'; got {reduce!r}")
        return importance_map(self, "signed", channels=reduce)

    def pixel_map(self, target: Optional[int] = None) -> np.ndarray:
        """Signed ``(H, W)`` map (channels summed), the common view shared with superpixel results."""
        return importance_map(self, "signed", target=target)

    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle). Returns the path written."""
        meta = {"kind": "pixel", "method": self.method, "target": int(self.target), "label_name": self.label_name,
                "probability": float(self.probability), "params": self.params, "figure_path": self.figure_path,
                "extras": sorted(self.extras)}
        extras = {f"extra_{k}": np.asarray(v) for k, v in self.extras.items()}
        return _write_npz(path, meta, image=self.image, attribution=np.asarray(self.attribution), **extras)

    @classmethod
    def load(cls, path) -> "PixelExplanation":
        """Read a file written by :meth:`save`."""
        meta, data = _read_npz(path, "pixel")
        return cls(method=meta["method"], image=data["image"], attribution=data["attribution"], target=meta["target"],
                   label_name=meta["label_name"], probability=meta["probability"], params=meta["params"],
                   extras={k: data[f"extra_{k}"] for k in meta["extras"]}, figure_path=meta["figure_path"])


class TokenWeight(NamedTuple):
    """One token of an explained text: its position, text and weight."""

    position: int
    token: str
    weight: float


class WordWeight(NamedTuple):
    """One word of an explained text: its index among the words, text, weight and character span."""

    position: int
    word: str
    weight: float
    start: int
    end: int


@dataclass
class TextExplanation(SurrogateResults):
    """Per-token weights for one text and one or more classes (text LIME, the gradient methods on
    token embeddings, occlusion, attention methods), with a word level on top.

    Every explanation has two levels: tokens (``tokens``, ``weights``, :meth:`top_tokens`) and
    words (:attr:`words`, :meth:`word_weights`, :meth:`top_words`): subword pieces and Chinese
    characters grouped into words by the rules of :mod:`paddlex_interpret.engine.text_words`
    (whitespace words; CJK characters one word each unless a ``segmentation`` is given; a word's
    weight is the sum of its tokens' by default). :attr:`token_offsets` and :attr:`word_offsets`
    are character spans into ``text``, for highlighting the raw text.

    Attributes
    ----------
    method : str
        ``'lime_text'``, ``'intgrad_text'``, ``'smoothgrad_text'``, ``'gradshap_text'``,
        ``'occlusion_text'``, ...
    text : str
        The explained text.
    tokens : list of str
        The tokens the weights belong to (special tokens excluded), in text order.
    token_ids : list of int
        Their vocabulary ids.
    targets : list of int
        Explained classes, first = primary (the top-1 class unless the caller chose one).
    weights : dict int -> ndarray (num_tokens,)
        Weight of each token position for each explained class: positive means the token raises
        the class score, negative that it lowers it (LIME's surrogate weights; the per-token
        attributions of the other methods).
    label_names, probabilities, intercepts, scores, local_predictions : dict int -> value
        Per explained class: name, model probability on the text and, for LIME only, the
        surrogate intercept, weighted R^2 of the local fit and the surrogate's value at the text.
    class_names : list of str
        Names of all the model's classes.
    class_probabilities : ndarray (num_classes,)
        The model's probabilities of all classes on the text.
    params : dict
        Every parameter of the run, including the seed actually used (``'random_state'``).
    html_path : str or None
        The HTML page written by the task API (e.g. :func:`paddlex_interpret.interpret.lime_text`), if any.
    offsets : list of (int, int) or None
        Character span of each token in ``text`` (the tokenizer's offset mapping when the method
        had one); None: aligned from ``text`` and ``tokens`` when first needed.
    segmentation : list of str or None
        The words of ``text`` in order (e.g. ``jieba.lcut(text)``) for the word level; None: the
        default rule (whitespace words, one word per CJK character). Change it with
        :meth:`with_segmentation`.
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
    offsets: Optional[List[Tuple[int, int]]] = None
    segmentation: Optional[List[str]] = None

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

    # -- the word level ---------------------------------------------------------------------------
    @property
    def token_offsets(self) -> List[Tuple[int, int]]:
        """``(start, end)`` character span of every token in :attr:`text`."""
        if self.offsets is not None and len(self.offsets) == len(self.tokens):
            return [(int(a), int(b)) for a, b in self.offsets]
        from .text_words import align_tokens

        key = (self.text, tuple(self.tokens))
        cached = self.__dict__.get("_aligned")
        if cached is None or cached[0] != key:
            cached = (key, align_tokens(self.text, self.tokens))
            self.__dict__["_aligned"] = cached
        return list(cached[1])

    def _word_level(self):
        from .text_words import group_tokens, segment_words

        key = (self.text, tuple(self.tokens), tuple(self.token_offsets),
               None if self.segmentation is None else tuple(self.segmentation))
        cached = self.__dict__.get("_words")
        if cached is None or cached[0] != key:
            owner, words = group_tokens(self.token_offsets, segment_words(self.text, self.segmentation))
            cached = (key, owner, words)
            self.__dict__["_words"] = cached
        return cached[1], cached[2]

    @property
    def word_offsets(self) -> List[Tuple[int, int]]:
        """``(start, end)`` character span of every word (words with at least one token)."""
        return list(self._word_level()[1])

    @property
    def words(self) -> List[str]:
        """The words of :attr:`text` that hold tokens, in text order."""
        return [self.text[a:b] for a, b in self._word_level()[1]]

    @property
    def word_of_token(self) -> List[int]:
        """For each token, the index of its word in :attr:`words` (the word holding its first character)."""
        return list(self._word_level()[0])

    def word_weights(self, target: Optional[int] = None, rule: str = "sum") -> np.ndarray:
        """Per-word weights ``(num_words,)`` for ``target``: the weights of a word's tokens added
        (``rule='sum'``, default), averaged (``'mean'``) or the one of largest magnitude (``'max_abs'``)."""
        from .text_words import aggregate

        owner, spans = self._word_level()
        return aggregate(self.weights_of(target), owner, len(spans), rule)

    def top_words(self, target: Optional[int] = None, k: Optional[int] = 5, absolute: bool = False,
                  rule: str = "sum") -> List[WordWeight]:
        """The ``k`` words that speak most for ``target`` (as :meth:`top_tokens`, on :meth:`word_weights`).

        Returns a list of ``WordWeight(position, word, weight, start, end)``, best first; ties keep text order.
        """
        w = self.word_weights(target, rule)
        spans = self._word_level()[1]
        order = np.argsort(-(np.abs(w) if absolute else w), kind="stable")
        if k is not None:
            order = order[:check_positive_int(k, "k")]
        return [WordWeight(int(i), self.text[spans[i][0]:spans[i][1]], float(w[i]), int(spans[i][0]),
                           int(spans[i][1])) for i in order]

    def with_segmentation(self, words) -> "TextExplanation":
        """A copy whose word level uses ``words`` (the text's words in order, e.g. ``jieba.lcut(text)``);
        None restores the default rule. The token level is unchanged."""
        import dataclasses

        from .text_words import check_segmentation, segment_words

        words = check_segmentation(words)
        segment_words(self.text, words)  # a segmentation that does not fit the text fails here
        copy = dataclasses.replace(self, segmentation=words)
        copy.__dict__.pop("_words", None)
        return copy

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle). Returns the path written."""
        meta = {"kind": "text", "method": self.method, "text": self.text, "tokens": list(self.tokens),
                **self._per_class_meta(), "class_names": list(self.class_names), "params": self.params,
                "html_path": self.html_path,
                "offsets": None if self.offsets is None else [[int(a), int(b)] for a, b in self.offsets],
                "segmentation": self.segmentation}
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
                   params=meta["params"], html_path=meta["html_path"],
                   offsets=None if meta.get("offsets") is None else [tuple(o) for o in meta["offsets"]],
                   segmentation=meta.get("segmentation"))


def _write_npz(path, meta: dict, **arrays) -> Path:
    from .._home import write_npz

    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return write_npz(path, {"format_version": _FORMAT_VERSION, **meta}, arrays)


def _read_npz(path, kind: Optional[str] = None):
    """``(meta, {name: array})`` of an explanation file; ValueError if it is not one (of ``kind``)."""
    from .._home import read_npz

    meta, arrays = read_npz(path, "paddlex_interpret explanation")
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"'{path}' holds a {meta.get('kind')!r} explanation, not a {kind} one")
    return meta, arrays




def load_explanation(path):
    """Load any explanation saved by paddlex_interpret (the type is read from the file)."""
    meta, _ = _read_npz(path)
    kinds = {"superpixel": SuperpixelExplanation, "pixel": PixelExplanation, "text": TextExplanation}
    if meta.get("kind") not in kinds:
        raise ValueError(f"'{path}' holds an unknown explanation kind {meta.get('kind')!r}")
    return kinds[meta["kind"]].load(path)
