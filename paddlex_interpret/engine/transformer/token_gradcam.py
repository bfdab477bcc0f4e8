"""Grad-CAM on a vision transformer's patch tokens (Selvaraju et al. 2017 applied to ViT tokens):
a block's normalised tokens (the input of its attention), special tokens dropped, laid out on the
derived patch grid."""
from __future__ import annotations

import numpy as np

from ...models.base import Classifier
from ..gradients._core import check_gradient_of
from ._core import AttentionMapMethod, _objective

__all__ = ["TokenGradCAM"]


class TokenGradCAM(AttentionMapMethod):
    """``ReLU(sum_d w_d T_d)`` over the patch tokens ``T`` (``(patches, D)``) that block ``block``'s
    attention reads (the output of its pre-attention LayerNorm, the input of ``qkv``), with ``w_d`` the
    mean over patches of ``d objective / d T_d``; no model surgery, no reshape hook.

    The default is the last block: its own output reaches the class only through the class token, so
    patch tokens after it have zero gradient. On the one-block known-answer ViT of the tests the
    map's maximum is on the decisive patch for 86-100% of the images on 8 of 10 training seeds
    (54% and 79% on the other two: the channel weights are a mean over all patches; see
    docs/transformers.md).

    Cost: one forward and one backward per image.

    Parameters
    ----------
    classifier : Classifier
        A ViT-like image classifier.
    block : int, default -1
        Which block's input tokens (negative counts from the end).
    gradient_of : {'logit', 'probability', 'loss'}, default 'logit'
    batch_size : int, default 16
    """

    method = "vit_gradcam"

    def __init__(self, classifier: Classifier, block: int = -1, gradient_of: str = "logit", batch_size: int = 16):
        super().__init__(classifier, start_layer=0, batch_size=batch_size)
        n = self.attention.num_layers
        if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)) or not -n <= block < n:
            raise ValueError(f"block must be an int in {-n}..{n - 1} (the model has {n} blocks), got {block!r}")
        self.block = int(block) % n
        self.gradient_of = check_gradient_of(gradient_of)

    def patch_relevance(self, inputs, targets, layout):
        import paddle

        classifier, attention = self.classifier, self.attention
        x = paddle.to_tensor(np.ascontiguousarray(inputs, dtype=np.float32), stop_gradient=False)
        classifier.outputs_probabilities  # may probe the network once: not inside the capture
        with classifier.eval_context(), attention.capture(values=True) as record:
            out = classifier.forward(x)
            attention.check_record(record, layout, len(inputs))
            tokens = record.block_inputs[self.block]  # the block's normalised tokens, input of qkv
            value = _objective(classifier, out, paddle.to_tensor(np.asarray(targets, dtype=np.int64)),
                               self.gradient_of)
            (grad,) = paddle.grad(value.sum(), [tokens], retain_graph=False, create_graph=False)
            t, g = tokens.numpy().astype(np.float64), grad.numpy().astype(np.float64)
        special = layout.num_special
        t, g = t[:, special:], g[:, special:]
        weights = g.mean(axis=1, keepdims=True)
        return np.maximum((t * weights).sum(axis=-1), 0.0)

    def params(self):
        layout = self.last_layout.as_dict() if self.last_layout is not None else None
        return {"block": self.block, "gradient_of": self.gradient_of, "batch_size": self.batch_size, "layout": layout}
