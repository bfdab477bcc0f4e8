"""Attention capture for text transformers (PaddleNLP ERNIE / BERT sequence classifiers).

No layer is replaced: the model is called with ``output_attentions=True, return_dict=True`` and the
per-layer attention maps it returns are the tensors its attention multiplies the values with (in
eval mode the dropout on them is the identity), so ``paddle.grad`` w.r.t. them gives the gradient
the methods need. PaddleNLP sets ``need_weights`` on every ``MultiHeadAttention`` when asked for
attentions and leaves it set; the flags are put back after every call. For the token mode of BT a
post-hook on each layer's ``self_attn.v_proj`` records its input ``Z`` and output ``Z W_v``; for the
integrated gradients a post-hook on the token-embedding layer scales its output by ``alpha``. Every
hook is removed in ``finally``; LayerNorms are recomputed from elementary ops while hooked (Paddle
3.3.1's CPU kernel gets their input gradient wrong when the scale is not 1).
"""
from __future__ import annotations

import contextlib
import inspect
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ._nlp_attention import dense_gradients, need_weights_flags, release
from .attention import AttentionUnavailableError
from .layer_norm import exact_layer_norm_hooks
from ._common import eval_mode, first_output

__all__ = ["TextAttention", "text_attention_model_of"]

_LAYER = re.compile(r"^(?:.*\.)?(?:encoder\.)?layers\.(\d+)$")


class TextAttention:
    """A PaddleNLP text classifier's attention, captured per call.

    Parameters
    ----------
    classifier : TextClassifier
        The adapter (:func:`paddlex_interpret.models.as_text_classifier`); its ``model``,
        ``build_input`` and ``embedding_layer()`` are used.
    """

    def __init__(self, classifier):
        model = getattr(classifier, "model", None)
        if model is None or not callable(getattr(classifier, "build_input", None)):
            raise AttentionUnavailableError(
                f"{type(classifier).__name__} is not a text classifier adapter; use models.as_text_classifier(model, "
                "tokenizer)")
        params = inspect.signature(model.forward).parameters
        if "output_attentions" not in params or "return_dict" not in params:
            raise AttentionUnavailableError(
                f"{type(model).__name__}.forward takes no output_attentions/return_dict, so its attention maps "
                "cannot be read; the attention methods (rollout_text, tam_text, generic_attention_text, "
                "bidirectional_text) need a PaddleNLP transformer (ERNIE, BERT, ...). Methods that apply: "
                "lime_text, occlusion_text, intgrad_text, smoothgrad_text, gradshap_text")
        self.classifier = classifier
        self.model = model
        self._accepts_types = "token_type_ids" in params
        layers = []
        for name, layer in model.named_sublayers():
            match = _LAYER.match(name)
            attn = getattr(layer, "self_attn", None)
            if match and attn is not None and hasattr(attn, "v_proj") and hasattr(attn, "out_proj"):
                layers.append((int(match.group(1)), layer))
        self.layers = [layer for _, layer in sorted(layers, key=lambda item: item[0])]
        if not self.layers:
            raise AttentionUnavailableError(
                f"{type(model).__name__} has no encoder layers with self_attn (v_proj, out_proj); the attention "
                "methods need a PaddleNLP ERNIE/BERT-style encoder")
        self.num_heads = int(getattr(self.layers[0].self_attn, "num_heads", 0)) or None

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def proj_weights(self) -> list:
        """Each layer's output projection ``W_o`` as numpy ``(D, D)`` (Paddle Linear: ``x @ W``)."""
        return [layer.self_attn.out_proj.weight.numpy() for layer in self.layers]

    def inputs(self, ids: Sequence[int], copies: int = 1):
        """``(input_ids, kwargs)`` tensors for ``copies`` copies of one content-id sequence."""
        import paddle

        full, types = self.classifier.build_input(list(ids))
        input_ids = paddle.to_tensor(np.tile(np.asarray(full, dtype=np.int64), (copies, 1)))
        kwargs = {}
        if self._accepts_types:
            kwargs["token_type_ids"] = paddle.to_tensor(np.tile(np.asarray(types, dtype=np.int64), (copies, 1)))
        return input_ids, kwargs

    def run(self, ids: Sequence[int], targets: Optional[np.ndarray] = None, gradient_of: str = "logit",
            gradients: Optional[str] = None, values: bool = False,
            embedding_scales: Optional[np.ndarray] = None, objective=None) -> Tuple[List[np.ndarray], Optional[list], dict]:
        """One forward of the sequence ``ids`` (``len(embedding_scales)`` copies, each with its token
        embeddings scaled, when given); ``(attentions, gradients, extra)`` as numpy.

        ``gradients``: None, 'all' (``d objective / d A_l`` for every layer) or 'last'. ``objective``:
        ``(logits, targets) -> per-sample values`` (the engine's; required with ``gradients``).
        ``extra['block_inputs']`` / ``extra['values']`` with ``values=True``; ``extra['logits']`` always.
        """
        import paddle

        copies = 1 if embedding_scales is None else len(embedding_scales)
        input_ids, kwargs = self.inputs(ids, copies)
        handles, flags = [], need_weights_flags(self.model)
        record = {"block_inputs": [], "values": []}

        def on_values(_layer, inputs, output):
            record["block_inputs"].append(inputs[0])
            record["values"].append(output)

        try:
            handles += exact_layer_norm_hooks(self.model)
            if values:
                handles += [layer.self_attn.v_proj.register_forward_post_hook(on_values) for layer in self.layers]
            if embedding_scales is not None:
                scale = paddle.to_tensor(np.asarray(embedding_scales, dtype=np.float32).reshape(-1, 1, 1))
                embedding = self.classifier.embedding_layer()
                if embedding is None:
                    raise AttentionUnavailableError(f"{type(self.model).__name__} has no token-embedding layer to "
                                                    "scale for the integrated gradients")
                handles.append(embedding.register_forward_post_hook(lambda _l, _i, out: out * scale))
            with eval_mode(self.model), (paddle.no_grad() if gradients is None else contextlib.nullcontext()):
                out = self.model(input_ids, output_attentions=True, return_dict=True, **kwargs)
            attentions = list(getattr(out, "attentions", None) or [])
            if len(attentions) != self.num_layers:
                raise AttentionUnavailableError(
                    f"{type(self.model).__name__} returned {len(attentions)} attention maps for {self.num_layers} "
                    "layers")
            grads = None
            if gradients is not None:
                t = paddle.to_tensor(np.asarray(targets, dtype=np.int64))
                value = objective(first_output(out), t)
                wrt = attentions if gradients == "all" else attentions[-1:]
                found = paddle.grad(value.sum(), wrt, retain_graph=False, create_graph=False, allow_unused=True)
                grads = dense_gradients(wrt, found)
            extra = {"logits": first_output(out).numpy()}
            if values:
                extra["block_inputs"] = [z.numpy() for z in record["block_inputs"][:self.num_layers]]
                extra["values"] = [v.numpy() for v in record["values"][:self.num_layers]]
            return [a.numpy() for a in attentions], grads, extra
        finally:
            release(handles, flags)


def text_attention_model_of(classifier) -> TextAttention:
    """The :class:`TextAttention` of a text classifier adapter; errors say why not and what applies."""
    return TextAttention(classifier)
