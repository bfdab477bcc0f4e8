"""Attention capture for transformer image classifiers: what the attention methods (Rollout, TAM,
Generic Attention, Bidirectional) see of a ViT-like network.

Supported by structure, not by class name: a network (or one of its sublayers) with ``patch_embed``
(``patch_size``), a class token (``cls_token``, optionally a distillation token ``dist_token``) and
``blocks[i].attn`` with ``qkv`` (one Linear), a Dropout ``attn_drop`` applied to the softmax output,
``proj`` (a Linear) and ``num_heads`` - PaddleClas ``ViT_*`` (patch 16/32, 224/384), ``DeiT_*``
(distilled included) and ``foundation_vit`` models with a class token.

The capture adds forward hooks for the duration of one ``with`` block (removed in ``finally``): a
pre-hook on ``attn_drop`` records the attention probabilities (the dropout's input, so a
``downscale_in_infer`` dropout cannot scale them), a post-hook on ``qkv`` its input ``Z`` and the value
part of its output, and post-hooks on every LayerNorm that recompute it from elementary ops (same
values; Paddle 3.3.1's CPU kernel gets the input gradient wrong when the scale is not 1). Gradients come from ``paddle.grad`` on the recorded tensors, which works in eval
mode; nothing here changes a mode, a dropout rate or a parameter. A ``use_fused_attn`` flag (fused
``scaled_dot_product_attention``, which exposes no probabilities) is switched off for the block and
restored after.

The patch grid comes from the input's size and ``patch_embed.patch_size``, the number of special
tokens from the class/distillation token parameters; both are checked against the captured attention
(``tokens == special + grid_h * grid_w``), never assumed.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator, List, Tuple

from .layer_norm import exact_layer_norm_hooks

__all__ = ["ATTENTION_METHODS", "AttentionUnavailableError", "TokenLayout", "AttentionRecord", "VitAttention",
           "attention_model_of", "network_of"]

#: the methods that read attention maps (registry names)
ATTENTION_METHODS = ("rollout", "tam", "generic_attention", "bidirectional")
#: what works on any differentiable image model instead
_OTHER_METHODS = "gradcam (on a convolutional layer), intgrad, smoothgrad, gradshap, lrp, occlusion and lime"


class AttentionUnavailableError(TypeError):
    """The model has no square, global self-attention whose probabilities can be captured."""


def _refuse(what: str) -> AttentionUnavailableError:
    return AttentionUnavailableError(
        f"{what}; the attention methods ({', '.join(ATTENTION_METHODS)}) are undefined for it. "
        f"Methods that apply to any differentiable image model: {_OTHER_METHODS}")


@dataclass(frozen=True)
class TokenLayout:
    """Where the patches are in the token sequence.

    Attributes
    ----------
    grid : (rows, cols)
        The patch grid of the explained input.
    num_special : int
        Tokens before the patches (class token, distillation token).
    readout : tuple of int
        Token rows the classifier's output is read from (the class token; class and distillation
        tokens for a distilled DeiT, whose output averages the two heads).
    patch_size : (height, width)
    """

    grid: Tuple[int, int]
    num_special: int
    readout: Tuple[int, ...]
    patch_size: Tuple[int, int]

    @property
    def num_tokens(self) -> int:
        return self.num_special + self.grid[0] * self.grid[1]

    def as_dict(self) -> dict:
        """JSON-friendly form (recorded in explanations' params)."""
        return {"grid": list(self.grid), "num_special": self.num_special, "readout": list(self.readout),
                "patch_size": list(self.patch_size)}


@dataclass
class AttentionRecord:
    """What one forward under :meth:`VitAttention.capture` recorded, first block first.

    ``attentions[l]``: probabilities ``(N, heads, S, S)`` (paddle tensors in the graph: differentiate
    with ``paddle.grad``). With ``values=True`` also ``block_inputs[l]`` (``Z``, the input of the
    block's ``qkv``, ``(N, S, D)``, in the graph) and ``values[l]`` (``Z W_v``, heads merged, ``(N, S, D)``).
    """

    attentions: List = field(default_factory=list)
    block_inputs: List = field(default_factory=list)
    values: List = field(default_factory=list)


def network_of(classifier):
    """The dygraph ``paddle.nn.Layer`` behind a classifier (a PaddleLayerClassifier's network, the
    dygraph twin of an exported model), or an AttentionUnavailableError saying how to get one."""
    import paddle

    from ._common import GradientsUnavailableError

    reason = classifier.gradients_unavailable() if hasattr(classifier, "gradients_unavailable") else None
    if reason:
        raise GradientsUnavailableError(
            f"the attention methods need the dygraph network, but {reason}; {classifier.gradients_remedy}")
    network = getattr(classifier, "network", None)
    twin = getattr(classifier, "_dygraph", None)
    if network is None and twin is not None:
        network = getattr(twin, "network", None)
    if not isinstance(network, paddle.nn.Layer):
        raise AttentionUnavailableError(
            f"{type(classifier).__name__} exposes no paddle network; wrap the transformer (a paddle.nn.Layer) "
            "in a PaddleLayerClassifier or pass it to interpret.* directly")
    return network


def _pair(value) -> Tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _check_known_refusals(network) -> None:
    for name, layer in network.named_sublayers(include_self=True):
        cls = type(layer).__name__
        if "WindowAttention" in cls or (hasattr(layer, "window_size") and hasattr(layer, "shift_size")):
            raise _refuse(f"{type(network).__name__} uses windowed attention ({name or 'the model'}: {cls}): its "
                          "attention is local to windows, so no token-to-token matrix over the image exists")
        if hasattr(layer, "sr_ratio") and hasattr(layer, "q"):
            raise _refuse(f"{type(network).__name__} uses spatial-reduction attention ({name}: {cls}): its "
                          "attention matrices are not square (keys are pooled), so they cannot be chained")
        if cls.startswith("LeViT") or "LePEAttention" in cls:
            raise _refuse(f"{type(network).__name__} ({cls}) computes attention without a separable softmax "
                          "layer over a fixed token set")


def _find_vit(network):
    """``(vit layer, blocks)``: the sublayer holding ``patch_embed`` and ``blocks`` of attention blocks."""
    candidates = []
    for name, layer in network.named_sublayers(include_self=True):
        blocks = getattr(layer, "blocks", None)
        if getattr(layer, "patch_embed", None) is None or blocks is None:
            continue
        try:
            blocks = list(blocks)
        except TypeError:
            continue
        ok = blocks and all(
            hasattr(getattr(b, "attn", None), "attn_drop") and hasattr(b.attn, "qkv") and hasattr(b.attn, "proj")
            and hasattr(b.attn, "num_heads") for b in blocks)
        if ok:
            candidates.append((layer, blocks))
    if not candidates:
        raise _refuse(
            f"{type(network).__name__} has no ViT-style attention blocks (a sublayer with `patch_embed` and "
            "`blocks[i].attn` holding `qkv`, `attn_drop` (the dropout on the softmax output), `proj`, `num_heads`)")
    return candidates[0]


class VitAttention:
    """A ViT-like network's attention, captured per call (see the module docstring).

    Parameters
    ----------
    network : paddle.nn.Layer
        The classifier's network (:func:`network_of`).
    """

    def __init__(self, network):
        _check_known_refusals(network)
        self.network = network
        self.vit, self.blocks = _find_vit(network)
        patch_embed = self.vit.patch_embed
        size = getattr(patch_embed, "patch_size", None)
        if size is None:
            raise _refuse(f"{type(network).__name__}.patch_embed has no patch_size")
        self.patch_size = _pair(size)
        special = []
        for attr in ("cls_token", "dist_token"):
            if getattr(self.vit, attr, None) is not None:
                special.append(attr)
        if "cls_token" not in special:
            raise _refuse(f"{type(network).__name__} has no class token (cls_token): the attention methods read "
                          "the class token's row")
        self.special_tokens = tuple(special)
        self.num_heads = int(self.blocks[0].attn.num_heads)

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def layout(self, input_hw: Tuple[int, int]) -> TokenLayout:
        """The token layout of a normalised input of height and width ``input_hw``."""
        ph, pw = self.patch_size
        h, w = int(input_hw[0]), int(input_hw[1])
        grid = (-(-h // ph), -(-w // pw))  # foundation_vit pads to a multiple of the patch
        n = len(self.special_tokens)
        return TokenLayout(grid=grid, num_special=n, readout=tuple(range(n)), patch_size=(ph, pw))

    def proj_weights(self) -> list:
        """The blocks' output projections ``W_o`` as numpy ``(D, D)`` (Paddle Linear: ``x @ W``)."""
        return [b.attn.proj.weight.numpy() for b in self.blocks]

    def _fused_flags(self):
        return [(layer, layer.use_fused_attn) for layer in self.network.sublayers(include_self=True)
                if isinstance(getattr(layer, "use_fused_attn", None), bool)]

    @contextlib.contextmanager
    def capture(self, values: bool = False) -> Iterator[AttentionRecord]:
        """Hooks recording every block's attention (and with ``values`` its ``Z`` and ``Z W_v``) for
        the forwards run inside the block; removed, and fused-attention flags restored, on exit."""
        record = AttentionRecord()
        handles, flags = [], self._fused_flags()

        def on_probabilities(_layer, inputs):
            record.attentions.append(inputs[0])

        def on_qkv(_layer, inputs, output):
            d = output.shape[-1] // 3
            record.block_inputs.append(inputs[0])
            record.values.append(output[:, :, 2 * d:])

        try:
            for layer, _ in flags:
                layer.use_fused_attn = False
            handles += exact_layer_norm_hooks(self.network)
            for block in self.blocks:
                handles.append(block.attn.attn_drop.register_forward_pre_hook(on_probabilities))
                if values:
                    handles.append(block.attn.qkv.register_forward_post_hook(on_qkv))
            yield record
        finally:
            for handle in handles:
                handle.remove()
            for layer, flag in flags:
                layer.use_fused_attn = flag

    def check_record(self, record: AttentionRecord, layout: TokenLayout, batch: int) -> None:
        """Refuse a forward whose captured attention is not one square map per block over
        ``layout.num_tokens`` tokens."""
        if len(record.attentions) != self.num_layers:
            raise _refuse(f"{type(self.network).__name__}: captured {len(record.attentions)} attention maps in one "
                          f"forward for {self.num_layers} blocks (a fused or custom attention path hides them)")
        shape = tuple(record.attentions[0].shape)
        expected = (batch, self.num_heads, layout.num_tokens, layout.num_tokens)
        if shape != expected:
            raise _refuse(f"{type(self.network).__name__}: attention maps of shape {shape}, expected {expected} "
                          f"for a {layout.grid[0]}x{layout.grid[1]} patch grid plus {layout.num_special} special "
                          "token(s) (tokens pooled or dropped, or a non-square attention)")


def attention_model_of(classifier) -> VitAttention:
    """The :class:`VitAttention` of an image classifier; errors say why not and what applies."""
    return VitAttention(network_of(classifier))
