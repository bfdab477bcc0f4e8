"""Generic Attention for CLIP-style two-tower image-text models (Chefer, Gur & Wolf 2021,
https://arxiv.org/abs/2103.15679): the self-attention rule in each tower, driven by the gradient of
one image-text similarity. (CLIP has no co-attention, so the paper's bimodal rules reduce to this.)"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ...data import ImagePreprocess
from ...models.base import clip_attention_model
from ..explanation import PixelExplanation
from ._core import check_start_layer, generic_attention_matrix, readout, upsample_tokens

__all__ = ["GenericAttentionCLIP", "CLIP_MEAN", "CLIP_STD"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class GenericAttentionCLIP:
    """Which image patches and which text tokens make an image match a text.

    Image: ``R_v <- R_v + mean_h((ds/dA ⊙ A)^+) R_v`` over the vision tower's blocks, read at the class
    token's row; text: the same over the text tower, read at the row the tower pools (its end-of-text
    token). ``s`` is ``logits_per_image[0, target]``, the scaled cosine similarity of the image and the
    target text. One forward and one backward.

    Parameters
    ----------
    model : paddle.nn.Layer
        A PaddleNLP ``CLIPModel`` (or one with the same structure).
    preprocess : ImagePreprocess, optional
        Default: resize and centre-crop to the vision tower's ``image_size``, CLIP's mean/std.
    start_layer : int, default 0
        First block used in the vision tower (0..its number of blocks).
    start_layer_text : int, default 0
        First block used in the text tower.
    """

    method = "generic_attention_clip"

    def __init__(self, model, preprocess: Optional[ImagePreprocess] = None, start_layer: int = 0,
                 start_layer_text: int = 0):
        self.attention = clip_attention_model(model)
        size = self.attention.image_size
        if preprocess is not None and not isinstance(preprocess, ImagePreprocess):
            raise TypeError(f"preprocess must be an ImagePreprocess, got {type(preprocess).__name__}")
        self.preprocess = preprocess or ImagePreprocess(resize_short=size, crop_size=size, mean=CLIP_MEAN, std=CLIP_STD)
        for name, value in (("start_layer", start_layer), ("start_layer_text", start_layer_text)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise TypeError(f"{name} must be an int >= 0, got {value!r}")
        self.start_layer = int(start_layer)  # checked against each tower's depth at the first call
        self.start_layer_text = int(start_layer_text)

    def explain(self, image: np.ndarray, input_ids: Sequence[Sequence[int]], target: Optional[int] = None,
                texts: Optional[Sequence[str]] = None) -> PixelExplanation:
        """Explain the match of a uint8 RGB ``image`` (any size: it is preprocessed) with text ``target``
        (an index into ``input_ids``, equal-length id rows from the model's tokenizer; default the best
        match). The result's ``attribution`` is the image map; ``extras['text_relevance']`` the target
        text's per-token relevance (its ``input_ids`` row), ``extras['token_map']`` the patch grid map,
        ``extras['similarities']`` every text's ``logits_per_image``."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be uint8 RGB (H, W, 3), got {image.dtype} {image.shape}")
        rows = [list(map(int, r)) for r in input_ids]
        if not rows or len({len(r) for r in rows}) != 1:
            raise ValueError("input_ids must be a non-empty list of equal-length token-id rows (pad them)")
        geometry = self.preprocess.geometry(image)
        pixels = self.preprocess(geometry[None])
        if target is None:
            sims, *_ = self.attention.run(pixels, rows, 0)
            target = int(np.argmax(sims))
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= int(target) < len(rows):
            raise ValueError(f"target must be an index into input_ids (0..{len(rows) - 1}), got {target!r}")
        target = int(target)
        sims, vis_a, vis_g, txt_a, txt_g = self.attention.run(pixels, rows, target)
        layout = self.attention.layout
        image_start = check_start_layer(self.start_layer, len(vis_a))
        image_matrix = generic_attention_matrix(vis_a, vis_g, image_start)
        tokens = readout(image_matrix, layout.readout, layout.num_special).reshape((1,) + tuple(layout.grid))
        text_start = check_start_layer(self.start_layer_text, len(txt_a), argument="start_layer_text")
        text_matrix = generic_attention_matrix(txt_a, txt_g, text_start)[0]
        text_relevance = text_matrix[self.attention.text_readout(rows[target])]
        attribution = upsample_tokens(tokens, layout, geometry.shape[:2])[0].astype(np.float32)
        name = texts[target] if texts is not None else f"text {target}"
        probs = np.exp(sims - sims.max())
        probs /= probs.sum()
        return PixelExplanation(
            method=self.method, image=geometry, attribution=attribution, target=target, label_name=str(name),
            probability=float(probs[target]),
            params={"start_layer": image_start, "start_layer_text": text_start, "layout": layout.as_dict(),
                    "text_readout": self.attention.text_readout(rows[target]), "input_ids": rows[target]},
            extras={"token_map": tokens[0].astype(np.float32), "text_relevance": text_relevance.astype(np.float32),
                    "similarities": np.asarray(sims, dtype=np.float32)})
