"""Attention capture for CLIP-style two-tower image-text models (PaddleNLP ``CLIPModel``).

One call of ``model(input_ids=..., pixel_values=..., output_attentions=True, return_dict=True)``
gives both towers' per-layer attention maps (``vision_model_output.attentions``,
``text_model_output.attentions``) and the image-text similarity ``logits_per_image``; ``paddle.grad``
w.r.t. the maps gives what Generic Attention needs. Read from the model, never assumed: the patch
grid (``vision_config.image_size // patch_size``; the class token first), and the text token the
text tower pools (the first end-of-text token, or the largest id for the configs PaddleNLP keeps
that convention for). ``need_weights`` flags, train/eval flags and hooks are restored after the call;
LayerNorms are recomputed from elementary ops while it runs (see :mod:`.layer_norm`).
"""
from __future__ import annotations

import inspect
from typing import Sequence

import numpy as np

from ._nlp_attention import dense_gradients, need_weights_flags, release
from .attention import AttentionUnavailableError, TokenLayout
from .layer_norm import exact_layer_norm_hooks
from ._common import eval_mode

__all__ = ["ClipAttention", "clip_attention_model_of", "load_clip", "clip_input_ids"]


class ClipAttention:
    """A CLIP model's two towers' attention, captured per call.

    Parameters
    ----------
    model : paddle.nn.Layer
        A PaddleNLP ``CLIPModel`` (anything with ``vision_model``, ``text_model`` and a forward taking
        ``input_ids``, ``pixel_values``, ``output_attentions``, ``return_dict`` and returning
        ``logits_per_image``).
    """

    def __init__(self, model):
        import paddle

        if not isinstance(model, paddle.nn.Layer):
            raise TypeError(f"model must be a paddle.nn.Layer (a PaddleNLP CLIPModel), got {type(model).__name__}")
        params = inspect.signature(model.forward).parameters
        missing = [p for p in ("input_ids", "pixel_values", "output_attentions", "return_dict") if p not in params]
        if missing or getattr(model, "vision_model", None) is None or getattr(model, "text_model", None) is None:
            raise AttentionUnavailableError(
                f"{type(model).__name__} is not a CLIP-style two-tower model (needs vision_model, text_model and a "
                f"forward taking input_ids, pixel_values, output_attentions, return_dict; missing {missing}); "
                "for a single-tower image classifier use interpret.generic_attention")
        self.model = model
        config = getattr(model, "config", None)
        vision = getattr(config, "vision_config", None)
        size, patch = getattr(vision, "image_size", None), getattr(vision, "patch_size", None)
        if not size or not patch:
            raise AttentionUnavailableError(f"{type(model).__name__}.config.vision_config has no image_size/patch_size")
        self.image_size = int(size)
        side = int(size) // int(patch)
        self.layout = TokenLayout(grid=(side, side), num_special=1, readout=(0,), patch_size=(int(patch), int(patch)))
        self.eos_token_id = getattr(model.text_model, "eos_token_id", None)

    def text_readout(self, ids: Sequence[int]) -> int:
        """The position the text tower pools: the first end-of-text token (the largest id when the
        model's ``eos_token_id`` is 2, as PaddleNLP does for such configs)."""
        ids = [int(i) for i in ids]
        if self.eos_token_id is None or int(self.eos_token_id) == 2:
            return int(np.argmax(ids))
        if int(self.eos_token_id) not in ids:
            raise ValueError(f"the text ids contain no end-of-text token ({self.eos_token_id}); tokenize with the "
                             "model's tokenizer (it appends it)")
        return ids.index(int(self.eos_token_id))

    def run(self, pixel_values: np.ndarray, input_ids: Sequence[Sequence[int]], target_text: int):
        """Forward of one image (``(1, 3, H, W)`` normalised) and the texts (equal-length id rows); returns
        ``(similarities (n_texts,), vision attentions, vision gradients, text attentions, text gradients)``
        (numpy, gradients of ``logits_per_image[0, target_text]``; text maps of the target text only)."""
        import paddle

        ids = paddle.to_tensor(np.asarray(input_ids, dtype=np.int64))
        pixels = paddle.to_tensor(np.ascontiguousarray(pixel_values, dtype=np.float32))
        handles, flags = [], need_weights_flags(self.model)
        try:
            handles += exact_layer_norm_hooks(self.model)
            with eval_mode(self.model):
                out = self.model(input_ids=ids, pixel_values=pixels, output_attentions=True, return_dict=True)
                vision = list(out.vision_model_output.attentions)
                text = list(out.text_model_output.attentions)
                if not vision or not text:
                    raise AttentionUnavailableError(f"{type(self.model).__name__} returned no attention maps")
                s = self.layout.num_tokens
                if tuple(vision[0].shape[-2:]) != (s, s):
                    raise AttentionUnavailableError(
                        f"vision attention of shape {tuple(vision[0].shape)} does not fit a "
                        f"{self.layout.grid[0]}x{self.layout.grid[1]} grid plus a class token")
                value = out.logits_per_image[0, int(target_text)]
                grads = paddle.grad(value, vision + text, retain_graph=False, create_graph=False, allow_unused=True)
            shaped = dense_gradients(vision + text, grads)
            t = int(target_text)
            return (out.logits_per_image.numpy()[0], [a.numpy() for a in vision], shaped[:len(vision)],
                    [a.numpy()[t:t + 1] for a in text], [g[t:t + 1] for g in shaped[len(vision):]])
        finally:
            release(handles, flags)


def clip_attention_model_of(model) -> ClipAttention:
    """The :class:`ClipAttention` of a CLIP-style model; errors say why not."""
    return ClipAttention(model)


def load_clip(model_dir, tokenizer_dir=None):
    """``(model, tokenizer)`` from folders written by PaddleNLP's ``save_pretrained``: a ``CLIPModel``
    from ``model_dir`` (in eval mode) and its tokenizer (``AutoTokenizer``) from ``tokenizer_dir``
    (default: the same folder). Nothing is downloaded. Needs paddlenlp (the ``paddlenlp`` extra)."""
    from ._pretrained import load_pretrained

    return load_pretrained("CLIPModel", "CLIPModel", model_dir, tokenizer_dir)


def clip_input_ids(tokenizer, texts: Sequence[str], model=None) -> list:
    """The ``input_ids`` rows :func:`~paddlex_interpret.interpret.generic_attention_clip` takes for ``texts``:
    tokenized with the start and end tokens, padded to one length (with the tokenizer's pad token),
    truncated to the text tower's ``max_position_embeddings`` when ``model`` is given."""
    if isinstance(texts, str) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError(f"texts must be a non-empty list of non-empty strings, got {texts!r}")
    limit = getattr(getattr(getattr(model, "config", None), "text_config", None), "max_position_embeddings", None)
    kwargs = {"truncation": True, "max_length": int(limit)} if limit else {}
    rows = [list(map(int, r)) for r in tokenizer(list(texts), padding=True, **kwargs)["input_ids"]]
    if len({len(r) for r in rows}) != 1:
        raise ValueError("the tokenizer did not pad the texts to one length")
    return rows
