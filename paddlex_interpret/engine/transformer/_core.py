"""What the attention methods share.

* The math, on per-layer attention arrays ``A_l`` of shape ``(N, heads, S, S)`` (numpy, float64),
  first block first. Each function returns a relevance matrix ``(N, S, S)`` whose row ``r`` says
  how much every token contributes to token ``r`` at the output; :func:`readout` reads the class
  token's row (class and distillation tokens averaged for a distilled DeiT) and drops the special
  tokens' columns.
* The capture: one forward of the classifier under the model layer's hooks
  (:func:`~paddlex_interpret.models.base.attention_model`), with ``paddle.grad`` w.r.t. the captured
  probabilities where a method needs gradients; the integrated gradients of the last block's
  attention along ``alpha * x`` (TAM, BT).
* :class:`AttentionMapMethod`, the per-pixel base class: token relevance on the derived patch grid,
  resized bilinearly to the image, as a :class:`~paddlex_interpret.engine.explanation.PixelExplanation`
  (the grid map is kept in ``extras['token_map']``).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ...models.base import Classifier, attention_model
from .._validation import check_positive_int
from ..base import AttributionMethod, check_images, resolve_targets
from ..explanation import PixelExplanation

__all__ = ["HEAD_FUSIONS", "fuse_heads", "rollout_matrix", "tam_matrix", "generic_attention_matrix",
           "bt_head_weights", "bt_head_matrix", "bt_token_matrix", "token_norm_ratio", "readout", "midpoints",
           "AttentionMapMethod", "check_start_layer"]

HEAD_FUSIONS = ("mean", "max", "min")


# -- the math ------------------------------------------------------------------------------------------
def _eye_like(attention: np.ndarray) -> np.ndarray:
    n, s = attention.shape[0], attention.shape[-1]
    return np.broadcast_to(np.eye(s), (n, s, s)).copy()


def fuse_heads(attention: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """``(N, H, S, S)`` -> ``(N, S, S)``: the mean (default), max or min over heads."""
    if head_fusion == "mean":
        return attention.mean(axis=1)
    if head_fusion == "max":
        return attention.max(axis=1)
    if head_fusion == "min":
        return attention.min(axis=1)
    raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")


def rollout_matrix(attentions: Sequence[np.ndarray], start_layer: int = 0, head_fusion: str = "mean") -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020): ``R = Â_{L-1} ... Â_start`` with
    ``Â_l = rownorm(fuse_h(A_l) + I)`` (the residual as an identity, rows renormalised to 1)."""
    result = _eye_like(attentions[0])
    eye = np.eye(result.shape[-1])
    for a in attentions[start_layer:]:
        a = fuse_heads(np.asarray(a, dtype=np.float64), head_fusion) + eye
        a /= a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result


def tam_matrix(attentions: Sequence[np.ndarray], last_gradients: np.ndarray, start_layer: int = 0) -> np.ndarray:
    """Transition Attention Maps (Yuan et al. 2021): the state ``s = mean_h A_{L-1}`` carried back
    through the blocks with the residual, ``s <- s mean_h(A_l) + s`` for ``l = L-2 .. start_layer``, then
    weighted entry-wise by ``mean_h(max(g, 0))``, ``g`` the integrated gradient of the last block's
    attention (averaged along ``alpha * x``)."""
    state = np.asarray(attentions[-1], dtype=np.float64).mean(axis=1)
    for layer in range(len(attentions) - 2, start_layer - 1, -1):
        state = state @ np.asarray(attentions[layer], dtype=np.float64).mean(axis=1) + state
    weight = np.clip(np.asarray(last_gradients, dtype=np.float64), 0, None).mean(axis=1)
    return state * weight


def generic_attention_matrix(attentions: Sequence[np.ndarray], gradients: Sequence[np.ndarray],
                             start_layer: int = 0) -> np.ndarray:
    """Generic Attention (Chefer et al. 2021, eqs. 5-6): ``R <- R + Ā_l R`` with
    ``Ā_l = mean_h((dy/dA_l ⊙ A_l)^+)``, rectified per head before the mean, from ``R = I``."""
    result = _eye_like(attentions[0])
    for a, g in list(zip(attentions, gradients))[start_layer:]:
        cam = np.clip(np.asarray(g, dtype=np.float64) * np.asarray(a, dtype=np.float64), 0, None).mean(axis=1)
        result = result + cam @ result
    return result


def bt_head_weights(attention: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """BT's head weights (Chen et al. 2022): ``I_h = mean |A_h^T dA_h|``, normalised over heads to
    sum to 1 (uniform where every head's ``I_h`` is 0). ``(N, H)``."""
    a = np.asarray(attention, dtype=np.float64)
    g = np.asarray(gradient, dtype=np.float64)
    importance = np.abs(np.swapaxes(a, -1, -2) @ g).mean(axis=(-1, -2))
    total = importance.sum(axis=1, keepdims=True)
    uniform = np.full_like(importance, 1.0 / importance.shape[1])
    return np.where(total > 0, importance / np.where(total > 0, total, 1.0), uniform)


def bt_head_matrix(attentions: Sequence[np.ndarray], gradients: Sequence[np.ndarray],
                   start_layer: int = 0) -> np.ndarray:
    """BT's attentional perception, head mode: ``R <- R + (sum_h I_h A_h) R`` from ``R = I``."""
    result = _eye_like(attentions[0])
    for a, g in list(zip(attentions, gradients))[start_layer:]:
        w = bt_head_weights(a, g)
        fused = np.einsum("nh,nhij->nij", w, np.asarray(a, dtype=np.float64))
        result = result + fused @ result
    return result


def token_norm_ratio(block_input: np.ndarray, values: np.ndarray, proj_weight: np.ndarray) -> np.ndarray:
    """BT's token weights ``||Z W_v W_o|| / ||Z||`` per token, ``(N, S)`` (0 where ``Z`` is 0)."""
    z = np.linalg.norm(np.asarray(block_input, dtype=np.float64), axis=-1)
    vo = np.linalg.norm(np.asarray(values, dtype=np.float64) @ np.asarray(proj_weight, dtype=np.float64), axis=-1)
    return np.where(z > 0, vo / np.where(z > 0, z, 1.0), 0.0)


def bt_token_matrix(attentions: Sequence[np.ndarray], ratios: Sequence[np.ndarray], start_layer: int = 0) -> np.ndarray:
    """BT's attentional perception, token mode: ``R <- R + mean_h(A_l) diag(ratio_l) R`` from ``R = I``."""
    result = _eye_like(attentions[0])
    for a, r in list(zip(attentions, ratios))[start_layer:]:
        fused = np.asarray(a, dtype=np.float64).mean(axis=1) * np.asarray(r, dtype=np.float64)[:, None, :]
        result = result + fused @ result
    return result


def readout(matrix: np.ndarray, rows: Sequence[int], num_special: int) -> np.ndarray:
    """The readout rows of a relevance matrix averaged, special tokens' columns dropped: ``(N, S - special)``."""
    return np.asarray(matrix)[:, list(rows), :].mean(axis=1)[:, num_special:]


def midpoints(steps: int) -> np.ndarray:
    """``alpha_s = (s + 0.5) / steps``: the midpoint rule on [0, 1] used for the integrated gradients."""
    return (np.arange(steps, dtype=np.float64) + 0.5) / steps


def check_start_layer(start_layer, num_layers: int, maximum: Optional[int] = None,
                      argument: str = "start_layer") -> int:
    """``start_layer`` as int in ``0..maximum`` (default ``num_layers``); an error naming ``argument`` and
    the range."""
    maximum = num_layers if maximum is None else maximum
    if isinstance(start_layer, (bool, np.bool_)) or not isinstance(start_layer, (int, np.integer)):
        raise TypeError(f"{argument} must be an int in 0..{maximum}, got {start_layer!r}")
    if not 0 <= int(start_layer) <= maximum:
        raise ValueError(f"{argument}={int(start_layer)} is out of range: the model has {num_layers} attention "
                         f"blocks (valid: 0..{maximum})")
    return int(start_layer)


# -- the capture -----------------------------------------------------------------------------------------
def _objective(classifier, outputs, targets, gradient_of):
    from ..gradients._core import objective

    return objective(classifier, outputs, targets, gradient_of)


def capture_attention(classifier: Classifier, attention, inputs: np.ndarray, targets: Optional[np.ndarray], layout,
                      gradient_of: str = "logit", gradients: Optional[str] = None,
                      values: bool = False) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]], dict]:
    """One forward of ``inputs`` under the capture; ``(attentions, gradients, extra)`` as numpy.

    ``gradients``: None (no backward), 'all' (every block's ``d objective / d A_l``) or 'last'
    (the last block's only). ``values``: also return ``extra['block_inputs']`` and ``extra['values']``.
    The classifier runs in eval mode; gradients come from ``paddle.grad`` and touch no parameter.
    """
    import paddle

    x = paddle.to_tensor(np.ascontiguousarray(inputs, dtype=np.float32), stop_gradient=gradients is None)
    if gradients is not None:
        classifier.outputs_probabilities  # may probe the network once: not inside the capture
    with classifier.eval_context(), attention.capture(values=values) as record:
        if gradients is None:
            with paddle.no_grad():
                classifier.forward(x)
            attention.check_record(record, layout, len(inputs))
            grads = None
        else:
            out = classifier.forward(x)
            attention.check_record(record, layout, len(inputs))
            captured = list(record.attentions)
            value = _objective(classifier, out, paddle.to_tensor(np.asarray(targets, dtype=np.int64)), gradient_of)
            wrt = captured if gradients == "all" else captured[-1:]
            found = paddle.grad(value.sum(), wrt, retain_graph=False, create_graph=False, allow_unused=True)
            grads = [np.zeros(tuple(a.shape), np.float32) if g is None else g.numpy() for a, g in zip(wrt, found)]
        attns = [a.numpy() for a in record.attentions[:attention.num_layers]]
        extra = {}
        if values:
            extra = {"block_inputs": [z.numpy() for z in record.block_inputs],
                     "values": [v.numpy() for v in record.values]}
    return attns, grads, extra


def last_layer_integrated_gradients(classifier: Classifier, attention, inputs: np.ndarray, targets: np.ndarray,
                                    layout, gradient_of: str, steps: int, batch_size: int,
                                    progress: bool = False, method: str = "") -> np.ndarray:
    """Mean over ``alpha_s = (s + 0.5) / steps`` of the gradient w.r.t. the last block's attention at
    the input ``alpha_s * x`` (zero baseline in the network's input space): ``(N, H, S, S)`` float64.
    The ``N * steps`` scaled inputs go through the model ``batch_size`` at a time."""
    alphas = midpoints(steps)
    n = len(inputs)
    total = n * steps
    sums = None
    chunks = range(0, total, batch_size)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc=f"{method} integrated gradients", unit="batch")
    for start in chunks:
        flat = np.arange(start, min(start + batch_size, total))
        owners, step = flat // steps, flat % steps
        points = inputs[owners] * alphas[step].astype(np.float32).reshape(-1, 1, 1, 1)
        _, grads, _ = capture_attention(classifier, attention, points, targets[owners], layout, gradient_of,
                                        gradients="last")
        g = grads[0].astype(np.float64)
        if sums is None:
            sums = np.zeros((n,) + g.shape[1:], dtype=np.float64)
        np.add.at(sums, owners, g)
    return sums / steps


def upsample_tokens(tokens: np.ndarray, layout, size: Tuple[int, int]) -> np.ndarray:
    """Token maps ``(N, rows, cols)`` -> ``(N, H, W)``: bilinear (half-pixel centres) to the patch-covered
    area ``rows * patch_h x cols * patch_w``, cropped to ``size`` (inputs padded to whole patches)."""
    import paddle
    import paddle.nn.functional as F

    (gh, gw), (ph, pw) = layout.grid, layout.patch_size
    covered = (gh * ph, gw * pw)
    with paddle.no_grad():
        t = paddle.to_tensor(np.ascontiguousarray(tokens[:, None], dtype=np.float32))
        up = F.interpolate(t, size=list(covered), mode="bilinear", align_corners=False).numpy()[:, 0]
    up = up[:, :size[0], :size[1]]
    if up.shape[1:] != tuple(size):
        with paddle.no_grad():
            up = F.interpolate(paddle.to_tensor(up[:, None]), size=list(size), mode="bilinear",
                               align_corners=False).numpy()[:, 0]
    return up


# -- base class ------------------------------------------------------------------------------------------
class AttentionMapMethod(AttributionMethod):
    """Base of the attention methods on images: subclasses implement :meth:`relevance_matrix`
    (``(N, S, S)`` for a normalised batch) and :meth:`_method_params`.

    ``attribute`` returns ``(N, H, W)`` float32 maps (>= 0 for every method here); the token maps on
    the patch grid of the last call are in :attr:`last_token_maps`, its layout in :attr:`last_layout`.
    """

    method = "attention"
    #: the largest valid start_layer relative to the number of blocks (0: start_layer <= num_layers)
    _start_layer_margin = 0

    def __init__(self, classifier: Classifier, start_layer: int = 0, batch_size: int = 16):
        super().__init__(classifier)
        self.attention = attention_model(classifier)
        self.start_layer = check_start_layer(start_layer, self.attention.num_layers,
                                             self.attention.num_layers - self._start_layer_margin)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.last_token_maps: Optional[np.ndarray] = None
        self.last_layout = None

    def relevance_matrix(self, inputs: np.ndarray, targets: np.ndarray, layout) -> np.ndarray:
        raise NotImplementedError

    def patch_relevance(self, inputs: np.ndarray, targets: np.ndarray, layout) -> np.ndarray:
        """``(n, rows * cols)``: the readout rows of :meth:`relevance_matrix`, patches only."""
        return readout(self.relevance_matrix(inputs, targets, layout), layout.readout, layout.num_special)

    def token_maps(self, images: np.ndarray, targets=None) -> Tuple[np.ndarray, object]:
        """``(maps (N, rows, cols) float64, layout)``: the readout rows' relevance of every patch."""
        images = check_images(images)
        targets = resolve_targets(self.classifier, images, targets, batch_size=self.batch_size)
        inputs = np.ascontiguousarray(self.classifier.preprocess(images), dtype=np.float32)
        if inputs.ndim != 4:
            raise ValueError(f"the attention methods need (N, C, H, W) network inputs; the preprocessing gives "
                             f"{inputs.shape}")
        layout = self.attention.layout(inputs.shape[2:])
        rows = []
        for start in range(0, len(inputs), self.batch_size):
            part = slice(start, start + self.batch_size)
            rows.append(self.patch_relevance(inputs[part], targets[part], layout))
        maps = np.concatenate(rows).reshape((len(inputs),) + tuple(layout.grid))
        return maps, layout

    def attribute(self, images: np.ndarray, targets=None) -> np.ndarray:
        """Per-pixel maps ``(N, H, W)`` float32 for uint8 images ``(N, H, W, 3)`` at the model's geometry;
        ``targets``: None (top-1), an int or one per image."""
        images = check_images(images)
        maps, layout = self.token_maps(images, targets)
        self.last_token_maps, self.last_layout = maps, layout
        return upsample_tokens(maps, layout, images.shape[1:3]).astype(np.float32)

    def explain(self, image: np.ndarray, target: Optional[int] = None) -> PixelExplanation:
        explanation = super().explain(image, target)
        explanation.extras["token_map"] = np.asarray(self.last_token_maps[0], dtype=np.float32)
        return explanation

    def _method_params(self) -> dict:
        return {}

    def params(self) -> dict:
        layout = self.last_layout.as_dict() if self.last_layout is not None else None
        return {**self._method_params(), "start_layer": self.start_layer, "batch_size": self.batch_size,
                "layout": layout}
