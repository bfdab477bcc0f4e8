"""What every model adapter shares: the Classifier abstractions the algorithms talk to, the label
checks, and small helpers (eval mode, softmax, first output) used by every adapter."""
from __future__ import annotations

import abc
import contextlib
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..data import ImagePreprocess, ImageSource, load_image
from ._common import GradientsUnavailableError, eval_mode, first_output

__all__ = ["prediction_session", "LabelledModel", "Classifier", "BaseTextClassifier", "ScoringClassifier", "LabelCountError", "GradientsUnavailableError",
           "softmax", "eval_mode", "first_output", "input_space_ok", "check_overrides", "check_label_count", "check_class_index"]

OUTPUT_KINDS = ("auto", "logits", "probabilities")


class LabelCountError(TypeError, ValueError):
    """The number of label names differs from the model's number of outputs.

    A ``TypeError`` (the pair model/labels does not fit together) and a ``ValueError`` (a bad
    ``labels`` value), so either ``except`` clause catches it.
    """


def check_label_count(labels: Optional[Sequence[str]], count: Optional[int], source: str = "labels",
                      model: str = "the network outputs") -> None:
    """Raise :class:`LabelCountError` when ``labels`` does not name ``count`` classes."""
    if labels is not None and count is not None and len(labels) != count:
        raise LabelCountError(f"{source} has {len(labels)} names but {model} {count} classes")


def check_class_index(class_index, num_classes: int, argument: str = "target") -> int:
    """``class_index`` as int if it is an integer in ``0..num_classes-1``; else an error naming ``argument``."""
    if isinstance(class_index, (bool, np.bool_)) or not isinstance(class_index, (int, np.integer)):
        raise TypeError(f"{argument} must be an int class index, got {class_index!r}")
    if not 0 <= int(class_index) < num_classes:
        raise ValueError(
            f"{argument}={int(class_index)} is out of range: the model has {num_classes} "
            f"classes (valid: 0..{num_classes - 1})"
        )
    return int(class_index)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = logits - logits.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def check_overrides(overrides, valid: Sequence[str], kind: str) -> None:
    """Refuse adapter overrides that ``kind`` does not take, naming the ones it does."""
    unknown = set(overrides) - set(valid)
    if unknown:
        raise TypeError(f"unknown overrides {sorted(unknown)} for {kind}; valid: {', '.join(valid)}")


class LabelledModel:
    """What image and text classifiers share: a class count, class names and the checks of class
    indices that every algorithm applies to ``target`` arguments."""

    labels: Optional[List[str]] = None

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        raise NotImplementedError

    def label_name(self, class_index: int) -> str:
        """Human-readable name of ``class_index`` (the index itself if no names are known)."""
        self.check_class_index(class_index)
        if self.labels:
            return str(self.labels[int(class_index)])
        return str(int(class_index))

    def check_class_index(self, class_index, argument: str = "target") -> int:
        """Validate a class index and return it as int; the error names ``argument``."""
        return check_class_index(class_index, self.num_classes, argument)

    def check_targets(self, targets, argument: str = "target") -> Tuple[int, ...]:
        """An int or a sequence of ints -> the distinct class indices in order (at least one)."""
        if isinstance(targets, (int, np.integer)) and not isinstance(targets, (bool, np.bool_)):
            targets = [targets]
        if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
            raise TypeError(f"{argument} must be an int class index or a list of them, got {targets!r}")
        checked = tuple(self.check_class_index(t, argument) for t in targets)
        if not checked:
            raise ValueError(f"{argument} must name at least one class")
        return tuple(dict.fromkeys(checked))


class Classifier(LabelledModel, abc.ABC):
    """An image classifier as the algorithms see it.

    Subclasses wrap one framework's model object. They know the preprocessing and the label
    names, and give a no-grad batch predictor plus a differentiable forward. They never keep the
    wrapped model in another mode, on another device or with hooks attached after a call returns.
    """

    preprocess: ImagePreprocess
    labels: Optional[List[str]] = None

    @property
    @abc.abstractmethod
    def num_classes(self) -> int:
        """Number of output classes."""

    @abc.abstractmethod
    def predict_proba(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        """Class probabilities ``(N, num_classes)`` for uint8 RGB images ``(N, H, W, 3)``
        that already have the explained geometry (see :meth:`image_as_explained`)."""

    def forward(self, inputs):
        """Differentiable forward: normalised ``paddle.Tensor`` ``(N, 3, H, W)`` -> logits."""
        raise NotImplementedError(f"{type(self).__name__} has no differentiable forward")

    def eval_context(self):
        """Context manager running the model in inference mode (eval), restoring its modes after."""
        raise NotImplementedError(f"{type(self).__name__} has no differentiable model")

    def named_layers(self) -> dict:
        """``{name: layer}`` of the model's sublayers, for methods that look inside (CAM, LRP)."""
        raise NotImplementedError(f"{type(self).__name__} exposes no layers")

    @property
    def outputs_probabilities(self) -> bool:
        """Whether :meth:`forward` returns probabilities rather than logits."""
        return False

    def gradients_unavailable(self) -> Optional[str]:
        """None when :meth:`forward` is differentiable; else why not (a sentence for error messages)."""
        if type(self).forward is Classifier.forward:
            return f"{type(self).__name__} has no differentiable forward"
        return None

    #: How a user gets a differentiable model when :meth:`gradients_unavailable` says why not.
    gradients_remedy = "wrap the paddle.nn.Layer in a PaddleLayerClassifier"

    def scores_for_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Raw network outputs ``(N, classes)`` (float64) for an already normalised float32 batch,
        without gradients - the path black-box methods that perturb the network input use."""
        import paddle

        x = paddle.to_tensor(np.ascontiguousarray(inputs, dtype=np.float32))
        with paddle.no_grad(), self.eval_context():
            out = self.forward(x)
        return np.asarray(out.numpy(), dtype=np.float64)

    def prediction_session(self):
        """Context manager for a run of many predictions during which the caller does not change the
        model's weights (LIME, Occlusion, the metrics): adapters that must check for changed weights
        (the fast runner) check once per session instead of once per batch. Nested sessions are one."""
        return contextlib.nullcontext(self)

    def clone(self) -> "Classifier":
        """An independent copy (same preprocessing and labels, its own copy of the network), for checks
        that change the weights, such as model randomisation."""
        raise TypeError(f"{type(self).__name__} cannot be cloned: this needs a paddle network to copy "
                        "(a PaddleLayerClassifier, or a model with its dygraph network)")

    def image_as_explained(self, source: ImageSource, channel_order: str = "rgb") -> np.ndarray:
        """Load ``source`` and apply the geometric part of the preprocessing (uint8 RGB)."""
        return self.preprocess.geometry(load_image(source, channel_order=channel_order))

    def top_classes(self, image: np.ndarray, k: int = 5) -> List[tuple]:
        """``[(class_index, name, probability), ...]`` for the k most probable classes."""
        probs = self.predict_proba(image[None], batch_size=1)[0]
        order = np.argsort(-probs, kind="stable")[:k]
        return [(int(i), self.label_name(int(i)), float(probs[i])) for i in order]


def prediction_session(model):
    """``model.prediction_session()`` where the model has one (image classifiers), else a no-op."""
    session = getattr(model, "prediction_session", None)
    return session() if callable(session) else contextlib.nullcontext(model)


def input_space_ok(classifier) -> bool:
    """Whether black-box methods may hand ``classifier`` batches already in its input space
    (:meth:`Classifier.scores_for_inputs`): its preprocessing is :class:`ImagePreprocess`'s own
    per-pixel normalisation (not a callable), and it scores such batches itself or through its
    differentiable forward."""
    preprocess = getattr(classifier, "preprocess", None)
    if type(preprocess) is not ImagePreprocess or preprocess.normalize is not None:
        return False
    if type(classifier).scores_for_inputs is not Classifier.scores_for_inputs:
        return True
    return classifier.gradients_unavailable() is None


class BaseTextClassifier(LabelledModel):
    """A text classifier as the algorithms see it (the PaddleNLP adapter,
    :class:`~paddlex_interpret.models.paddlenlp.TextClassifier`, implements it).

    Attributes ``unk_token_id`` / ``pad_token_id`` (int or None) and ``has_pad_token`` tell which
    tokens can stand for a hidden one.
    """

    unk_token_id: Optional[int] = None
    pad_token_id: Optional[int] = None
    has_pad_token: bool = False

    def encode(self, text: str):
        """``(tokens, ids, truncated)`` of ``text`` without special tokens."""
        raise NotImplementedError

    def input_length(self, num_tokens: int) -> int:
        """Model input length of a sequence of ``num_tokens`` content tokens (special tokens added)."""
        raise NotImplementedError

    def predict_proba(self, sequences, batch_size: int = 50, pad_to: Optional[int] = None) -> np.ndarray:
        """Class probabilities ``(N, num_classes)`` of token-id sequences (without special tokens)."""
        raise NotImplementedError

    # -- what gradient methods on token embeddings need ------------------------------------------
    mask_token_id: Optional[int] = None

    def build_input(self, ids):
        """``(input_ids, token_type_ids)`` of one sequence: ``ids`` with the special tokens added."""
        raise NotImplementedError

    def content_start(self, num_tokens: int) -> int:
        """Position of the first content token in :meth:`build_input`'s output (1 after ``[CLS]``)."""
        raise NotImplementedError

    def token_offsets(self, text: str, tokens) -> Optional[list]:
        """``[(start, end), ...]`` character spans of ``tokens`` in ``text``, or None if unknown."""
        return None

    def gradients_unavailable(self) -> Optional[str]:
        """None when :meth:`embedding_forward` works; else why not (a sentence for error messages)."""
        return f"{type(self).__name__} exposes no token-embedding layer"

    def input_embeddings(self, sequences, pad_to: Optional[int] = None) -> np.ndarray:
        """The embedding layer's output ``(N, L, H)`` (float32, no gradient) on the model inputs of
        ``sequences`` (special tokens added, padded to the longest or ``pad_to``)."""
        raise NotImplementedError

    def embedding_forward(self, sequences, embeddings, pad_to: Optional[int] = None):
        """Differentiable logits ``(N, num_classes)`` (a paddle Tensor) of ``sequences`` with the
        embedding layer's output replaced by ``embeddings`` ``(N, L, H)`` (a paddle Tensor), in eval mode;
        the attention mask and token types come from ``sequences``. No hook outlives the call."""
        raise NotImplementedError


class ScoringClassifier(Classifier):
    """A classifier whose subclasses only map a normalised float32 batch to raw scores
    (:meth:`_batch_scores`); batching, the class count, label checks and the logits/probabilities
    decision live here. Subclasses call :meth:`_init_scoring` in their constructor."""

    def _init_scoring(self, output: str):
        if output not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {OUTPUT_KINDS}, got {output!r}")
        self._output = output
        self._num_classes: Optional[int] = None
        self._probe_failure = None  # (preprocess, size, labels, error type, message, cause) of a failed probe

    def _batch_scores(self, batch: np.ndarray):
        """Raw network output ``(N, classes)`` for a preprocessed float32 batch."""
        raise NotImplementedError

    @property
    def outputs_probabilities(self) -> bool:
        if self._output == "auto":
            self.num_classes  # runs one forward and settles the output kind
        return self._output == "probabilities"

    @property
    def num_classes(self) -> int:
        """Number of output classes, found by one forward on a black image of the network's input
        size (224x224 if the preprocessing names none) and then remembered.

        A failing probe is remembered too (for the same ``preprocess`` object, probe size and
        labels): later reads give ``len(labels)`` when labels were given, else raise the same error
        again (same type, message and cause) without running the network once more. A successful
        prediction sets the count at any time; another ``preprocess`` or ``labels`` probes again.
        """
        if self._num_classes is not None:
            return self._num_classes
        size = tuple(self.preprocess.crop_size or self.preprocess.resize_to or (224, 224))
        labels = None if self.labels is None else tuple(self.labels)
        failed = getattr(self, "_probe_failure", None)
        if failed is None or failed[0] is not self.preprocess or failed[1:3] != (size, labels):
            try:
                self._raw_scores(np.zeros((1, size[0], size[1], 3), dtype=np.uint8))
            except LabelCountError as exc:
                self._probe_failure = (self.preprocess, size, labels, LabelCountError, str(exc), exc.__cause__)
                raise
            except Exception as exc:
                message = (f"could not find the number of classes by running the network on a {size[0]}x{size[1]} "
                           f"image ({exc}); give labels=... or a preprocess with the network's crop_size")
                self._probe_failure = failed = (self.preprocess, size, labels, ValueError, message, exc)
            else:
                self._probe_failure = None
                return self._num_classes
        if self._num_classes is not None:
            return self._num_classes
        error_type, message, cause = failed[3:]
        if error_type is ValueError and self.labels is not None:
            return len(self.labels)  # checked against the real output at the first prediction
        raise error_type(message) from cause

    def scores_for_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Raw network outputs ``(N, classes)`` (float64) for an already normalised float32 batch,
        without gradients - the black-box path methods that perturb the network input use."""
        scores = np.asarray(self._batch_scores(np.ascontiguousarray(inputs, dtype=np.float32)), dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != len(inputs):
            raise ValueError(f"the network must return scores of shape (batch, classes); got {tuple(scores.shape)}")
        return scores

    def _raw_scores(self, images: np.ndarray) -> np.ndarray:
        scores = np.asarray(self._batch_scores(self.preprocess(images)), dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != len(images):
            raise ValueError(
                f"the network must return scores of shape (batch, classes); got {tuple(scores.shape)}"
            )
        if self._num_classes is None:
            check_label_count(self.labels, scores.shape[1])
            self._num_classes = scores.shape[1]
        if self._output == "auto":
            is_prob = bool(np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3))
            self._output = "probabilities" if is_prob else "logits"
        return scores

    def predict_proba(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"predict_proba takes a uint8 batch (N, H, W, 3); got {images.dtype} {images.shape}"
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunks = [self._raw_scores(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        scores = np.concatenate(chunks, axis=0)
        return scores if self._output == "probabilities" else softmax(scores)


def _validate_labels(labels: Optional[Sequence[str]]) -> Optional[List[str]]:
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of class names, not a single string")
    return [str(x) for x in labels]


def attention_model(classifier):
    """The transformer view the attention methods (rollout, tam, generic_attention, bidirectional) use
    of an image classifier: a :class:`~paddlex_interpret.models.attention.VitAttention` (hooks per call,
    token layout, attention/value capture). Raises ``AttentionUnavailableError`` (a TypeError) naming
    the methods that apply when the network has no capturable square self-attention."""
    from .attention import attention_model_of

    return attention_model_of(classifier)


def text_attention_model(classifier):
    """The attention view of a text classifier adapter (PaddleNLP ERNIE/BERT) for the attention methods
    on text: a :class:`~paddlex_interpret.models.text_attention.TextAttention` (``output_attentions``
    per call, flags and hooks restored). Raises ``AttentionUnavailableError`` naming what applies."""
    from .text_attention import text_attention_model_of

    return text_attention_model_of(classifier)


def clip_attention_model(model):
    """The two-tower attention view of a CLIP-style image-text model (PaddleNLP ``CLIPModel``) for
    Generic Attention's bimodal use: a :class:`~paddlex_interpret.models.clip_attention.ClipAttention`."""
    from .clip_attention import clip_attention_model_of

    return clip_attention_model_of(model)
