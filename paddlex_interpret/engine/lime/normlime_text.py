"""NormLIME for text: global token or word weights learnt from text LIME over a corpus, stored in an
``.npz`` file, reused while it matches, and used to explain new texts.

The global weights (Ahern et al. 2019, as PaddleX's NormLIME does for superpixel clusters): each
corpus text is explained by :class:`~.lime_text.LimeText` for its predicted class ``c``; its
weights are divided by their sum of absolute values (so that every text counts once); then
``G[c, f]`` is the mean of those normalised weights over every occurrence of feature ``f`` (a token,
or a lower-cased word of :attr:`TextExplanation.words`) in texts predicted as ``c``. Features never
seen for a class weigh 0 there.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ...models.base import BaseTextClassifier
from .._text import predict_text
from .._validation import check_positive_int, resolve_seed
from ..explanation import TextExplanation, _json_default
from .lime_text import LimeText

__all__ = ["TextGlobalWeights", "compute_text_global_weights", "text_global_weights_for", "NormLimeText", "LEVELS"]

LEVELS = ("word", "token")
_FORMAT = "paddlex_interpret.normlime_text_weights"
_FORMAT_VERSION = 1


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False, default=_json_default).encode("utf-8")).hexdigest()


def check_corpus(corpus) -> List[str]:
    """The corpus as a non-empty list of non-empty strings; an error naming ``corpus`` otherwise."""
    if isinstance(corpus, (str, bytes)) or not hasattr(corpus, "__iter__"):
        raise TypeError(f"corpus must be a list of texts, got {type(corpus).__name__}")
    corpus = list(corpus)
    if not corpus or not all(isinstance(t, str) and t.strip() for t in corpus):
        raise ValueError("corpus must hold at least one text, and only non-empty strings")
    return corpus


def model_fingerprint(classifier: BaseTextClassifier, corpus: Sequence[str], probes: int = 8) -> str:
    """sha256 of the model's probabilities (rounded to 1e-4) on the first ``probes`` corpus texts and of
    their token ids: changes when the model or the tokenizer changes."""
    encoded = [list(classifier.encode(t)[1]) for t in corpus[:probes]]
    probs = classifier.predict_proba(encoded, batch_size=len(encoded))
    return _sha({"ids": encoded, "p": np.round(probs, 4).tolist()})


@dataclass
class TextGlobalWeights:
    """NormLIME text weights: ``weights[c, f]`` for class ``c`` and feature ``features[f]``.

    Attributes
    ----------
    features : list of str
        Tokens (``level='token'``) or lower-cased words (``level='word'``).
    weights : ndarray (num_classes, num_features) float64
    level : {'word', 'token'}
    label_names : list of str
    counts : ndarray (num_classes, num_features) int64
        Occurrences behind each weight.
    labels_sha256, corpus_sha256, model_sha256 : str
        Fingerprints of the class names, the corpus and the model's outputs (see :meth:`mismatch`).
    params : dict
        LIME's settings and the seed.
    """

    features: List[str]
    weights: np.ndarray
    level: str
    label_names: List[str]
    counts: np.ndarray
    labels_sha256: str
    corpus_sha256: str
    model_sha256: str
    params: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if self.weights.shape != (len(self.label_names), len(self.features)) or self.counts.shape != self.weights.shape:
            raise ValueError(f"weights {self.weights.shape} / counts {self.counts.shape} do not match "
                             f"{len(self.label_names)} classes x {len(self.features)} features")
        self._index = {f: i for i, f in enumerate(self.features)}

    def weight(self, target: int, feature: str) -> float:
        """``G[target, feature]`` (0 for a feature never seen)."""
        i = self._index.get(feature)
        return 0.0 if i is None else float(self.weights[int(target), i])

    def top_features(self, target: int, k: int = 10) -> List[tuple]:
        """``[(feature, weight), ...]``: the ``k`` features that speak most for ``target`` globally."""
        order = np.argsort(-self.weights[int(target)], kind="stable")[:check_positive_int(k, "k")]
        return [(self.features[i], float(self.weights[int(target), i])) for i in order]

    def mismatch(self, classifier: BaseTextClassifier, corpus: Sequence[str], level: str,
                 params: Dict[str, Any]) -> Optional[str]:
        """None if these weights were computed with this model, corpus, level and parameters; else why not."""
        labels = list(classifier.labels)
        if self.labels_sha256 != _sha(labels):
            return f"the class names differ ({self.label_names} stored, {labels} now)"
        if self.level != level:
            return f"level {self.level!r} stored, {level!r} asked"
        if self.corpus_sha256 != _sha(list(corpus)):
            return "the corpus differs"
        stored = {k: self.params.get(k) for k in params}
        if stored != params:
            return f"the parameters differ ({stored} stored, {params} asked)"
        if self.model_sha256 != model_fingerprint(classifier, list(corpus)):
            return "the model (or its tokenizer) gives other outputs than when the weights were computed"
        return None

    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays + JSON metadata, no pickle), atomically. Returns the path."""
        from ..._home import atomic_write

        path = Path(path)
        meta = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "features": self.features, "level": self.level,
                "label_names": self.label_names, "labels_sha256": self.labels_sha256,
                "corpus_sha256": self.corpus_sha256, "model_sha256": self.model_sha256, "params": self.params}
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, meta=np.array(json.dumps(meta, ensure_ascii=False, default=_json_default)),
                                    weights=self.weights, counts=self.counts)
        return path

    @classmethod
    def load(cls, path) -> "TextGlobalWeights":
        """Read a file written by :meth:`save`; ValueError if it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                weights, counts = data["weights"], data["counts"]
        except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"'{path}' is not a NormLIME text weights file: {exc}") from exc
        if meta.get("format") != _FORMAT:
            raise ValueError(f"'{path}' is not a NormLIME text weights file")
        return cls(features=list(meta["features"]), weights=weights, level=meta["level"],
                   label_names=list(meta["label_names"]), counts=counts, labels_sha256=meta["labels_sha256"],
                   corpus_sha256=meta["corpus_sha256"], model_sha256=meta["model_sha256"], params=meta["params"])


def _features(explanation: TextExplanation, level: str):
    """``(feature of each unit, weight of each unit)`` of one explanation: tokens, or lower-cased words."""
    if level == "token":
        return list(explanation.tokens), np.asarray(explanation.weights_of(), dtype=np.float64)
    return [w.lower() for w in explanation.words], explanation.word_weights()


def _lime_params(num_samples, mask_token, batch_size) -> Dict[str, Any]:
    return {"num_samples": int(num_samples), "mask_token": mask_token, "batch_size": int(batch_size)}


def compute_text_global_weights(classifier: BaseTextClassifier, corpus: Sequence[str], level: str = "word",
                                num_samples: int = 500, mask_token: str = "unk", batch_size: int = 50,
                                random_state: Optional[int] = 0, progress: bool = True) -> TextGlobalWeights:
    """NormLIME text weights over ``corpus`` (see the module docstring for the rule).

    Parameters
    ----------
    classifier : TextClassifier
    corpus : list of str
    level : {'word', 'token'}, default 'word'
    num_samples, mask_token, batch_size : LIME's (see :class:`LimeText`)
    random_state : int or None, default 0
        Text ``i`` is explained with seed ``seed + i``; None draws the seed (recorded).
    progress : bool, default True
        A tqdm bar over the corpus.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    corpus = check_corpus(corpus)
    seed = resolve_seed(random_state)
    lime = LimeText(classifier, num_samples=num_samples, batch_size=batch_size, mask_token=mask_token, progress=False)
    sums: Dict[tuple, float] = {}
    counts: Dict[tuple, int] = {}
    texts = corpus
    if progress:
        from tqdm.auto import tqdm

        texts = tqdm(corpus, desc="NormLIME text", unit="text")
    for i, text in enumerate(texts):
        lime.random_state = seed + i
        exp = lime.explain(text)
        feats, w = _features(exp, level)
        total = np.abs(w).sum()
        if total > 0:
            w = w / total
        for f, v in zip(feats, w):
            key = (exp.target, f)
            sums[key] = sums.get(key, 0.0) + float(v)
            counts[key] = counts.get(key, 0) + 1
    features = sorted({f for _, f in sums})
    index = {f: j for j, f in enumerate(features)}
    k = classifier.num_classes
    weights = np.zeros((k, len(features)))
    count = np.zeros((k, len(features)), dtype=np.int64)
    for (c, f), s in sums.items():
        weights[c, index[f]] = s / counts[(c, f)]
        count[c, index[f]] = counts[(c, f)]
    labels = list(classifier.labels)
    return TextGlobalWeights(features=features, weights=weights, level=level, label_names=labels, counts=count,
                             labels_sha256=_sha(labels), corpus_sha256=_sha(corpus),
                             model_sha256=model_fingerprint(classifier, corpus),
                             params={**_lime_params(num_samples, mask_token, batch_size), "random_state": seed})


def text_global_weights_for(classifier: BaseTextClassifier, corpus: Sequence[str], weights_file=None,
                            level: str = "word", num_samples: int = 500, mask_token: str = "unk",
                            batch_size: int = 50, random_state: Optional[int] = 0, progress: bool = True):
    """``(weights, reused)``: the weights in ``weights_file`` if they match this model, corpus, level and
    parameters; else computed and (when ``weights_file`` is given) written there atomically. A file that
    is not a weights file is an error, never overwritten."""
    corpus = check_corpus(corpus)
    asked = _lime_params(num_samples, mask_token, batch_size)
    if random_state is not None:
        asked["random_state"] = resolve_seed(random_state)
    if weights_file is not None and Path(weights_file).is_file():
        stored = TextGlobalWeights.load(weights_file)
        if stored.mismatch(classifier, corpus, level, asked) is None:
            return stored, True
    weights = compute_text_global_weights(classifier, corpus, level, num_samples, mask_token, batch_size,
                                          random_state, progress)
    if weights_file is not None:
        weights.save(weights_file)
    return weights, False


class NormLimeText:
    """Explain a text with NormLIME global weights: each token (or word) gets its feature's global
    weight for the class. For ``level='word'`` a word's weight is shared equally by its tokens, so
    :meth:`TextExplanation.word_weights` gives back the global word weights.

    Parameters
    ----------
    classifier : TextClassifier
    global_weights : TextGlobalWeights
        From :func:`compute_text_global_weights` / :func:`text_global_weights_for`, for this model.
    """

    method = "normlime_text"

    def __init__(self, classifier: BaseTextClassifier, global_weights: TextGlobalWeights):
        if not isinstance(classifier, BaseTextClassifier):
            raise TypeError(f"classifier must be a paddlex_interpret TextClassifier, got {type(classifier).__name__}")
        if not isinstance(global_weights, TextGlobalWeights):
            raise TypeError(f"global_weights must be TextGlobalWeights, got {type(global_weights).__name__}")
        if list(global_weights.label_names) != list(classifier.labels):
            raise ValueError(f"global_weights were computed for the classes {global_weights.label_names}, the model "
                             f"has {list(classifier.labels)}")
        self.classifier = classifier
        self.global_weights = global_weights

    def explain(self, text: str, targets: Union[None, int, Sequence[int]] = None, top_k: int = 1) -> TextExplanation:
        """Explain ``text`` (``targets`` / ``top_k`` as in the other text methods)."""
        if not isinstance(text, str) or not text.strip():  # this method's own message, before the shared checks
            raise ValueError("text must be a non-empty str")
        tokens, ids, truncated, probs, classes = predict_text(self.classifier, text, targets, top_k)
        labels = list(self.classifier.labels)
        offsets = self.classifier.token_offsets(text, tokens)
        exp = TextExplanation(method=self.method, text=text, tokens=[str(t) for t in tokens],
                              token_ids=[int(i) for i in ids], targets=classes, weights={},
                              label_names={c: labels[c] for c in classes},
                              probabilities={c: float(probs[c]) for c in classes}, class_names=labels,
                              class_probabilities=np.asarray(probs, dtype=np.float64).copy(),
                              params={"level": self.global_weights.level, "truncated": bool(truncated),
                                      "global_params": self.global_weights.params},
                              offsets=None if offsets is None else [tuple(o) for o in offsets])
        g = self.global_weights
        for c in classes:
            if g.level == "token":
                exp.weights[c] = np.array([g.weight(c, t) for t in exp.tokens])
            else:
                owner = np.asarray(exp.word_of_token)
                per_word = [g.weight(c, w.lower()) for w in exp.words]
                sizes = np.bincount(owner, minlength=len(per_word))
                exp.weights[c] = np.array([per_word[o] / sizes[o] for o in owner])
        return exp
