"""What every input-gradient method shares: the objective and its gradient w.r.t. the input."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import paddle
import paddle.nn.functional as F

from ...models.base import Classifier

__all__ = ["GRADIENT_OF", "check_gradient_of", "objective", "input_gradients"]

GRADIENT_OF = ("probability", "logit", "loss")


def check_gradient_of(value: str) -> str:
    if value not in GRADIENT_OF:
        raise ValueError(f"gradient_of must be one of {GRADIENT_OF}, got {value!r}")
    return value


def objective(classifier: Classifier, outputs: paddle.Tensor, targets: paddle.Tensor, gradient_of: str) -> paddle.Tensor:
    """Per-sample scalar to differentiate: the target's probability, logit, or cross-entropy loss.

    For a network that already outputs probabilities, 'logit' is the log-probability.
    """
    probs_out = bool(getattr(classifier, "outputs_probabilities", False))
    one_hot = F.one_hot(targets, outputs.shape[1]).astype(outputs.dtype)
    if gradient_of == "logit":
        chosen = (outputs * one_hot).sum(axis=1)
        return paddle.log(chosen.clip(min=1e-12)) if probs_out else chosen
    probs = outputs if probs_out else F.softmax(outputs, axis=1)
    p = (probs * one_hot).sum(axis=1)
    return p if gradient_of == "probability" else -paddle.log(p.clip(min=1e-12))


def input_gradients(classifier: Classifier, inputs: np.ndarray, targets: np.ndarray,
                    gradient_of: str = "probability") -> Tuple[np.ndarray, np.ndarray]:
    """Gradients of the objective w.r.t. normalised inputs ``(N, 3, H, W)`` and the objective values.

    Runs in eval mode (the model's own modes are restored after) and leaves no gradient on the
    model's parameters.
    """
    x = paddle.to_tensor(np.ascontiguousarray(inputs, dtype=np.float32), stop_gradient=False)
    t = paddle.to_tensor(np.asarray(targets, dtype=np.int64))
    with classifier.eval_context():
        out = classifier.forward(x)
        value = objective(classifier, out, t, gradient_of)
        (grad,) = paddle.grad(value.sum(), [x], retain_graph=False, create_graph=False)
    return grad.numpy(), value.numpy()
