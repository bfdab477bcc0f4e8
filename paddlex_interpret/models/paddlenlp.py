"""Adapter for PaddleNLP sequence classifiers (ERNIE, BERT, ``AutoModelForSequenceClassification``).

The adapter needs no ``import paddlenlp``: it talks to the model as a ``paddle.nn.Layer`` that takes
``input_ids`` (and, when its ``forward`` accepts them, ``token_type_ids`` and ``attention_mask``)
and to the tokenizer through the PaddleNLP / Hugging Face tokenizer methods.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import paddle

from .base import BaseTextClassifier, check_label_count, check_overrides, eval_mode, first_output, softmax
from .layer_norm import exact_layer_norm_hooks

__all__ = ["TextClassifier", "Tokenized", "Encoded", "is_text_classifier", "as_text_classifier", "is_paddlenlp_trainer"]

_TOKENIZER_METHODS = ("tokenize", "convert_tokens_to_ids")
_OVERRIDES = ("labels", "max_length", "embedding_layer")


class Tokenized(NamedTuple):
    """A text as the model sees it, without special tokens: ``tokens, ids = classifier.tokenize(text)``."""

    tokens: List[str]
    ids: List[int]


class Encoded(NamedTuple):
    """:meth:`TextClassifier.encode`'s result: the tokens and ids the model sees, and whether the text
    was cut at ``max_length``."""

    tokens: List[str]
    ids: List[int]
    truncated: bool


class TextClassifier(BaseTextClassifier):
    """A PaddleNLP sequence classifier and its tokenizer, as the text explainers see them.

    Parameters
    ----------
    model : paddle.nn.Layer
        A sequence classifier: ``model(input_ids[, token_type_ids=..., attention_mask=...])``
        returns logits ``(batch, num_labels)``, or a tuple / dict / output object whose first
        item, ``'logits'`` entry or ``.logits`` is those logits (e.g.
        ``ErnieForSequenceClassification``, ``BertForSequenceClassification`` or what
        ``AutoModelForSequenceClassification`` returns). Softmax is applied to the logits.
    tokenizer : PaddleNLP tokenizer
        Needs ``tokenize`` and ``convert_tokens_to_ids``; ``build_inputs_with_special_tokens``,
        ``create_token_type_ids_from_sequences``, ``unk_token_id`` and ``pad_token_id`` are used
        when present (PaddleNLP's tokenizers have them all).
    labels : sequence of str, optional
        Class names; default: ``model.config.id2label`` (PaddleNLP's default names are
        ``'LABEL_0'``, ``'LABEL_1'``, ...), else the class indices as strings.
    max_length : int, optional
        Most content tokens (special tokens not counted) given to the model; longer texts are cut
        with a warning. Default: the smaller of ``model.config.max_position_embeddings`` and
        ``tokenizer.model_max_length``, less the special tokens; no limit if neither is known.
    embedding_layer : str, optional
        Name of the sublayer whose output is the token embeddings (for the gradient methods);
        default: ``model.get_input_embeddings()`` (PaddleNLP models, e.g.
        ``ernie.embeddings.word_embeddings``), else the first ``paddle.nn.Embedding`` sublayer.

    Notes
    -----
    Every call runs the model in eval mode (without gradients, except :meth:`embedding_forward`)
    and then restores each sublayer's own train/eval flag. No hooks outlive a call, parameters stay
    where they are (inputs are put on the device of the model's first parameter) and no paddle
    global setting is changed.
    """

    def __init__(self, model, tokenizer, labels: Optional[Sequence[str]] = None, max_length: Optional[int] = None,
                 embedding_layer: Optional[str] = None):
        _check_model(model)
        _check_tokenizer(tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self._accepts = _forward_keywords(model)
        self._embedding = self._find_embedding(embedding_layer)
        self.unk_token_id = _special_id(tokenizer, "unk")
        self.mask_token_id = _special_id(tokenizer, "mask")
        self.pad_token_id = _special_id(tokenizer, "pad")
        self.has_pad_token = self.pad_token_id is not None
        if not self.has_pad_token:
            self.pad_token_id = 0  # only padding slots get it, and attention_mask hides them
        self._num_special = len(self.build_input([])[0])
        self.max_length = self._resolve_max_length(max_length)
        self._num_classes = self._probe_num_classes()
        self.labels = self._resolve_labels(labels)

    def __repr__(self):
        return (f"TextClassifier({type(self.model).__name__}, {type(self.tokenizer).__name__}, "
                f"classes={self.num_classes})")

    # -- classes ------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Number of classes the model outputs."""
        return self._num_classes

    # -- text -> ids --------------------------------------------------------------------------
    def tokenize(self, text: str) -> Tokenized:
        """Split ``text`` into tokens (no special tokens) and their ids.

        Texts longer than ``max_length`` tokens are cut there, with a warning.
        """
        tokens, ids, _ = self.encode(text)
        return Tokenized(tokens, ids)

    def encode(self, text: str) -> Encoded:
        """As :meth:`tokenize`, and whether the text was cut at ``max_length``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        tokens = [str(t) for t in self.tokenizer.tokenize(text)]
        truncated = self.max_length is not None and len(tokens) > self.max_length
        if truncated:
            warnings.warn(f"the text has {len(tokens)} tokens; only the first {self.max_length} are used "
                          f"(the model's limit)", UserWarning, stacklevel=3)
            tokens = tokens[:self.max_length]
        ids = self.tokenizer.convert_tokens_to_ids(tokens)
        if isinstance(ids, (int, np.integer)):  # some tokenizers return an int for a single token
            ids = [ids]
        return Encoded(tokens, [int(i) for i in ids], bool(truncated))

    def build_input(self, ids: Sequence[int]) -> Tuple[List[int], List[int]]:
        """``(input_ids, token_type_ids)`` of one sequence: ``ids`` with the special tokens added."""
        ids = [int(i) for i in ids]
        build = getattr(self.tokenizer, "build_inputs_with_special_tokens", None)
        full = list(build(ids)) if callable(build) else ids
        types = getattr(self.tokenizer, "create_token_type_ids_from_sequences", None)
        token_types = list(types(ids)) if callable(types) else []
        if len(token_types) != len(full):
            token_types = [0] * len(full)
        return [int(i) for i in full], [int(t) for t in token_types]

    def input_length(self, num_tokens: int) -> int:
        """Model input length of a sequence of ``num_tokens`` content tokens."""
        return int(num_tokens) + self._num_special

    # -- prediction -----------------------------------------------------------------------------
    def predict_proba(self, sequences: Sequence[Sequence[int]], batch_size: int = 50,
                      pad_to: Optional[int] = None) -> np.ndarray:
        """Class probabilities ``(N, num_classes)`` (float64) of token-id sequences.

        Parameters
        ----------
        sequences : list of list of int
            Token ids without special tokens (as from :meth:`tokenize`); special tokens are added.
        batch_size : int, default 50
            Sequences per forward pass.
        pad_to : int, optional
            Pad every batch to at least this many model-input tokens (special tokens included);
            default: to the longest sequence of the batch. Padding uses the tokenizer's pad id and
            is hidden by ``attention_mask`` (as is any pad id inside a sequence).
        """
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        sequences = list(sequences)
        if not sequences:
            return np.zeros((0, self.num_classes), dtype=np.float64)
        chunks = [self._logits(sequences[i:i + batch_size], pad_to) for i in range(0, len(sequences), batch_size)]
        logits = np.concatenate(chunks, axis=0)
        if logits.shape[1] != self.num_classes:
            raise ValueError(f"the model returned {logits.shape[1]} classes, {self.num_classes} before")
        return softmax(logits)

    # -- internals ------------------------------------------------------------------------------
    def _model_inputs(self, batch: Sequence[Sequence[int]], pad_to: Optional[int]):
        """``(input_ids, kwargs)``: the padded id tensor and the token_type_ids / attention_mask the
        model's forward accepts, on the model's device."""
        if not paddle.in_dynamic_mode():
            raise RuntimeError("paddle is in static-graph mode; call paddle.disable_static() before explaining "
                               "a dygraph model")
        built = [self.build_input(ids) for ids in batch]
        length = max([len(ids) for ids, _ in built] + [int(pad_to or 0)])
        input_ids = np.full((len(built), length), self.pad_token_id, dtype=np.int64)
        token_types = np.zeros((len(built), length), dtype=np.int64)
        attention = np.zeros((len(built), length), dtype=paddle.get_default_dtype())
        for row, (ids, types) in enumerate(built):
            input_ids[row, :len(ids)] = ids
            token_types[row, :len(types)] = types
            attention[row, :len(ids)] = 1
        if self.has_pad_token:  # a pad id inside a sequence (mask_token='pad') is hidden as padding is
            attention[input_ids == self.pad_token_id] = 0
        place = _model_place(self.model)
        kwargs = {}
        if "token_type_ids" in self._accepts:
            kwargs["token_type_ids"] = paddle.to_tensor(token_types, place=place)
        if "attention_mask" in self._accepts:
            kwargs["attention_mask"] = paddle.to_tensor(attention, place=place)
        return paddle.to_tensor(input_ids, place=place), kwargs

    def _check_logits(self, logits, n: int):
        shape = tuple(logits.shape)
        if len(shape) != 2 or shape[0] != n:
            raise TypeError(f"{type(self.model).__name__} returned an output of shape {shape} for "
                            f"{n} sequences; a sequence classifier returns logits of shape "
                            "(batch, num_labels) (is it a token classifier or a base model without a head?)")

    def _logits(self, batch: Sequence[Sequence[int]], pad_to: Optional[int]) -> np.ndarray:
        input_ids, kwargs = self._model_inputs(batch, pad_to)
        with paddle.no_grad(), eval_mode(self.model):
            out = self.model(input_ids, **kwargs)
        logits = first_output(out)
        scores = np.asarray(logits.numpy() if hasattr(logits, "numpy") else logits, dtype=np.float64)
        self._check_logits(scores, len(batch))
        return scores

    # -- token embeddings (gradient methods) -------------------------------------------------------
    def embedding_layer(self):
        """The layer whose output is the token embeddings: the model's ``get_input_embeddings()``
        (PaddleNLP models), else the ``embedding_layer`` named at construction, else its first
        ``paddle.nn.Embedding``; None if there is none."""
        return self._embedding

    def gradients_unavailable(self) -> Optional[str]:
        if self._embedding is None:
            return (f"{type(self.model).__name__} has no token-embedding layer (no get_input_embeddings() and no "
                    "paddle.nn.Embedding sublayer); pass embedding_layer='<sublayer name>'")
        return None

    def content_start(self, num_tokens: int) -> int:
        probe = [self.unk_token_id if self.unk_token_id is not None else self.pad_token_id] * int(num_tokens)
        full, _ = self.build_input(probe)
        n = len(probe)
        for start in range(len(full) - n + 1):
            if full[start:start + n] == probe:
                return start
        raise ValueError("cannot find the content tokens in the tokenizer's model input")

    def token_offsets(self, text: str, tokens) -> Optional[list]:
        """Character spans of ``tokens`` in ``text`` from the tokenizer's ``get_offset_mapping``
        when it gives one span per token; else None (the explanation then aligns the tokens itself)."""
        mapping = getattr(self.tokenizer, "get_offset_mapping", None)
        if not callable(mapping):
            return None
        try:
            spans = [(int(a), int(b)) for a, b in mapping(text)]
        except Exception:  # a tokenizer whose mapping fails on this text: align instead
            return None
        if len(spans) < len(tokens):
            return None
        spans = spans[:len(tokens)]
        if any(not 0 <= a <= b <= len(text) for a, b in spans):
            return None
        trimmed = []
        for a, b in spans:  # some tokenizers give an [UNK] its surrounding spaces
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            trimmed.append((a, b))
        return trimmed

    def input_embeddings(self, sequences, pad_to: Optional[int] = None) -> np.ndarray:
        self._need_embeddings()
        input_ids, kwargs = self._model_inputs(list(sequences), pad_to)
        captured = []
        handle = self._embedding.register_forward_post_hook(
            lambda _layer, _inputs, output: captured.append(output[0] if isinstance(output, (tuple, list))
                                                            else output))
        try:
            with paddle.no_grad(), eval_mode(self.model):
                self.model(input_ids, **kwargs)
        finally:
            handle.remove()
        if not captured:
            raise TypeError(f"the embedding layer of {type(self.model).__name__} did not run in its forward")
        return np.asarray(captured[0].numpy(), dtype=np.float32)

    def embedding_forward(self, sequences, embeddings, pad_to: Optional[int] = None):
        self._need_embeddings()
        sequences = list(sequences)
        input_ids, kwargs = self._model_inputs(sequences, pad_to)
        if tuple(embeddings.shape[:2]) != tuple(input_ids.shape):
            raise ValueError(f"embeddings of shape {tuple(embeddings.shape)} do not match the model input "
                             f"{tuple(input_ids.shape)}")
        calls = []

        def replace(_layer, _inputs, output):
            calls.append(1)
            return embeddings

        handles = [self._embedding.register_forward_post_hook(replace)]
        try:
            handles += exact_layer_norm_hooks(self.model)
            with eval_mode(self.model):
                out = self.model(input_ids, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        if not calls:
            raise TypeError(f"the embedding layer of {type(self.model).__name__} did not run in its forward")
        logits = first_output(out)
        self._check_logits(logits, len(sequences))
        return logits

    def _need_embeddings(self):
        reason = self.gradients_unavailable()
        if reason:
            raise TypeError(reason)

    def _find_embedding(self, name):
        layers = dict(self.model.named_sublayers())
        if name is not None:
            if not isinstance(name, str) or name not in layers:
                close = [n for n in layers if "embed" in n.lower()]
                raise ValueError(f"embedding_layer={name!r} is not a sublayer of {type(self.model).__name__}; "
                                 f"layers with 'embed' in their name: {close}")
            return layers[name]
        get = getattr(self.model, "get_input_embeddings", None)
        if callable(get):
            try:
                layer = get()
            except Exception:  # models whose base model lacks the method raise NotImplementedError and the like
                layer = None
            if isinstance(layer, paddle.nn.Layer):
                return layer
        for layer in layers.values():
            if isinstance(layer, paddle.nn.Embedding):
                return layer
        return None

    def _probe_num_classes(self) -> int:
        try:
            scores = self._logits([[self.unk_token_id if self.unk_token_id is not None else self.pad_token_id]], None)
        except TypeError:
            raise
        except Exception as exc:
            raise TypeError(f"running {type(self.model).__name__} on input_ids failed ({type(exc).__name__}: {exc}); "
                            "expected a sequence classifier that takes input_ids (e.g. "
                            "ErnieForSequenceClassification) with the tokenizer of its vocabulary") from exc
        if scores.shape[1] < 2:
            raise TypeError(f"{type(self.model).__name__} outputs {scores.shape[1]} score per text; a sequence "
                            "classifier with at least 2 classes is expected (num_labels=1 is regression)")
        return int(scores.shape[1])

    def _resolve_labels(self, labels) -> List[str]:
        if labels is not None:
            if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
                raise TypeError(f"labels must be a sequence of class names, got {type(labels).__name__}")
            labels = list(labels)
            check_label_count(labels, self.num_classes, model=f"{type(self.model).__name__} outputs")
            return [str(x) for x in labels]
        id2label = getattr(getattr(self.model, "config", None), "id2label", None)
        if isinstance(id2label, dict) and id2label:
            try:
                names = {int(k): str(v) for k, v in id2label.items()}
            except (TypeError, ValueError):
                names = {}
            if sorted(names) == list(range(self.num_classes)):
                return [names[i] for i in range(self.num_classes)]
            warnings.warn(f"model.config.id2label names {len(names)} classes but the model outputs "
                          f"{self.num_classes}; using class indices as names (pass labels=... to name them)",
                          UserWarning, stacklevel=3)
        return [str(i) for i in range(self.num_classes)]

    def _resolve_max_length(self, max_length) -> Optional[int]:
        if max_length is not None:
            if isinstance(max_length, (bool, np.bool_)) or not isinstance(max_length, (int, np.integer)) \
                    or max_length < 1:
                raise ValueError(f"max_length must be an int >= 1, got {max_length!r}")
            return int(max_length)
        limits = []
        positions = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        if isinstance(positions, (int, np.integer)) and positions > 0:
            limits.append(int(positions))
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_limit, (int, np.integer)) and 0 < tok_limit < 10**9:  # "no limit" is a huge number
            limits.append(int(tok_limit))
        if not limits:
            return None
        return max(1, min(limits) - self._num_special)


def _check_model(model) -> None:
    if isinstance(model, TextClassifier):
        raise TypeError("model is already a TextClassifier; use it directly")
    if not isinstance(model, paddle.nn.Layer):
        raise TypeError(f"model must be a paddle.nn.Layer sequence classifier (e.g. PaddleNLP's "
                        f"ErnieForSequenceClassification); got {type(model).__module__}.{type(model).__name__}")
    if _is_paddlenlp_model(model) and "ForSequenceClassification" not in type(model).__name__:
        raise TypeError(f"{type(model).__name__} is not a sequence classifier; expected a PaddleNLP "
                        "*ForSequenceClassification model (e.g. ErnieForSequenceClassification, or "
                        "AutoModelForSequenceClassification.from_pretrained(...))")
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    if not positional:
        raise TypeError(f"{type(model).__name__}.forward takes no positional input; expected a sequence "
                        "classifier whose forward takes input_ids")


def _is_paddlenlp_model(model) -> bool:
    return any(cls.__name__ == "PretrainedModel" and cls.__module__.startswith("paddlenlp")
               for cls in type(model).__mro__)


def _check_tokenizer(tokenizer) -> None:
    if tokenizer is None:
        raise TypeError("a tokenizer is required: pass the model's PaddleNLP tokenizer, e.g. "
                        "tokenizer=ErnieTokenizer.from_pretrained(...) or AutoTokenizer.from_pretrained(...)")
    missing = [m for m in _TOKENIZER_METHODS if not callable(getattr(tokenizer, m, None))]
    if missing:
        raise TypeError(f"tokenizer must be a PaddleNLP tokenizer with {' and '.join(_TOKENIZER_METHODS)}; "
                        f"{type(tokenizer).__name__} lacks {', '.join(missing)}")


def _special_id(tokenizer, name: str) -> Optional[int]:
    value = getattr(tokenizer, f"{name}_token_id", None)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def _forward_keywords(model) -> Tuple[str, ...]:
    """The optional inputs (token_type_ids, attention_mask) that ``model.forward`` accepts."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return ()
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return ("token_type_ids", "attention_mask")
    return tuple(name for name in ("token_type_ids", "attention_mask") if name in params)


def _model_place(model):
    for p in model.parameters():
        return p.place
    return None  # no parameters: paddle's current device


def is_text_classifier(obj) -> bool:
    """Whether ``obj`` can be explained as a text classifier without a forward pass.

    True for a :class:`TextClassifier`, a PaddleNLP ``Trainer``, a ``*ForSequenceClassification`` model, and a
    ``paddle.nn.Layer`` whose ``forward`` names its first input ``input_ids``.
    """
    if isinstance(obj, TextClassifier) or is_paddlenlp_trainer(obj):
        return True
    if not isinstance(obj, paddle.nn.Layer):
        return False
    if _is_paddlenlp_model(obj):
        return "ForSequenceClassification" in type(obj).__name__
    try:
        params = [p for p in inspect.signature(obj.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].name == "input_ids"


def as_text_classifier(model, tokenizer=None, **overrides: Any) -> TextClassifier:
    """Wrap a sequence classifier and its tokenizer in a :class:`TextClassifier`.

    Parameters
    ----------
    model : TextClassifier, paddle.nn.Layer or paddlenlp.trainer.Trainer
        A TextClassifier is returned as is (``tokenizer`` and ``overrides`` must then be left
        out); a layer is wrapped (see :class:`TextClassifier` for what it must return); a PaddleNLP
        ``Trainer`` (after ``trainer.train()``) gives its ``model`` (unwrapped from a
        ``DataParallel``) and its ``tokenizer``.
    tokenizer : PaddleNLP tokenizer, default None
        Required for a layer; for a Trainer it overrides ``trainer.tokenizer``.
    **overrides
        ``labels`` and ``max_length`` of :class:`TextClassifier`.

    Raises
    ------
    TypeError
        A missing or unusable tokenizer, a model that is not a sequence classifier, or (as
        :class:`LabelCountError`) a ``labels`` list of the wrong length.
    """
    if isinstance(model, TextClassifier):
        if tokenizer is not None or overrides:
            given = (["tokenizer"] if tokenizer is not None else []) + sorted(overrides)
            raise TypeError(f"model is already a TextClassifier; {', '.join(given)} cannot be applied to it "
                            "(give them when building the TextClassifier)")
        return model
    check_overrides(overrides, _OVERRIDES, "a text classifier")
    if is_paddlenlp_trainer(model):
        model, tokenizer = _from_trainer(model, tokenizer)
    if not isinstance(model, paddle.nn.Layer):
        raise TypeError(f"cannot explain a {type(model).__module__}.{type(model).__name__} as a text classifier: "
                        "expected a paddle.nn.Layer sequence classifier (e.g. PaddleNLP's "
                        "ErnieForSequenceClassification) with its tokenizer, or a TextClassifier")
    return TextClassifier(model, tokenizer, **overrides)


def is_paddlenlp_trainer(obj) -> bool:
    """Whether ``obj`` is a ``paddlenlp.trainer.Trainer`` (or a subclass), recognised without importing paddlenlp."""
    return any(cls.__name__ == "Trainer" and (cls.__module__ or "").startswith("paddlenlp.")
               for cls in type(obj).__mro__)


def _from_trainer(trainer, tokenizer):
    """``(model, tokenizer)`` of a PaddleNLP Trainer: its model (a DataParallel's wrapped layer) and
    its tokenizer unless one is given."""
    model = getattr(trainer, "model", None)
    model = getattr(model, "_layers", model)  # paddle.DataParallel keeps the network in _layers
    if not isinstance(model, paddle.nn.Layer):
        raise TypeError(f"the Trainer holds no model (trainer.model is {type(model).__name__}); build it with "
                        "Trainer(model=..., tokenizer=...)")
    if tokenizer is None:
        tokenizer = getattr(trainer, "tokenizer", None)
        if tokenizer is None:
            raise TypeError("the Trainer has no tokenizer: build it with Trainer(..., tokenizer=tokenizer) or pass "
                            "tokenizer=... next to the trainer")
    return model, tokenizer


def load_text_classifier(model_dir, tokenizer_dir=None, **overrides: Any) -> TextClassifier:
    """A :class:`TextClassifier` from folders written by PaddleNLP's ``save_pretrained``: the model
    (``AutoModelForSequenceClassification``) from ``model_dir``, its tokenizer (``AutoTokenizer``)
    from ``tokenizer_dir`` (default: the same folder). Nothing is downloaded: the folders must hold
    the files. Needs paddlenlp (the ``paddlenlp`` extra)."""
    from ._pretrained import load_pretrained

    model, tokenizer = load_pretrained("AutoModelForSequenceClassification", "sequence classifier", model_dir,
                                       tokenizer_dir)
    return TextClassifier(model, tokenizer, **overrides)

