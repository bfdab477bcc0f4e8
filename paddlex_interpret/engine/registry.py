"""The one table of explanation methods: what each explains, what it needs from the model, its figure.

``interpret``, the CLI, ``compare``/``consensus``, the GUI and the tests look methods up here
(:func:`get_method`, :func:`available`), never by importing private names. A new method adds one
:class:`MethodSpec` row; its module is imported only when the method is used.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import List, Optional

__all__ = ["MethodSpec", "METHODS", "get_method", "available", "method_names", "EXPLAINS", "NEEDS", "FIGURES"]

#: what a method explains: an image, a text, or an image-text pair (a two-tower model such as CLIP:
#: its free function takes the image, the model and the candidate texts)
EXPLAINS = ("image", "text", "image_text")
#: what a method needs from the model: class probabilities only, input gradients, named layers
#: (hooks on feature maps; gradients too), or attention maps
NEEDS = ("black_box", "gradients", "layers", "attention")
#: figure kinds: PaddleX's 2x5 LIME figure, its 4x5 NormLIME figure, the per-pixel map figure, an HTML page
FIGURES = ("lime", "normlime", "pixel", "html")


@dataclass(frozen=True)
class MethodSpec:
    """One explanation method.

    Attributes
    ----------
    name : str
        The name users type (``interpret.<function>``, ``paddlex-interpret explain <name>``).
    target : str
        ``'module:Class'`` of the engine class, relative to ``paddlex_interpret.engine``.
    family : str
        The engine subpackage grouping related methods.
    explains : {'image', 'text', 'image_text'}
    needs : {'black_box', 'gradients', 'layers', 'attention'}
    figure : {'lime', 'normlime', 'pixel', 'html'}
    function : str
        The free function in :mod:`paddlex_interpret.interpret`.
    composable : bool
        Built from the classifier and keyword parameters alone and explained with
        ``explain(image, target)``, so ``compare`` and ``consensus`` can run it.
    summary : str
        One line for ``--help`` and the docs.
    figure_map : {'signed', 'absolute', 'positive'}
        The :func:`~paddlex_interpret.engine.maps.importance_map` mode its figures draw: 'signed'
        (evidence for the class in red, against it in blue) where the sign means something,
        'absolute' for raw gradients (whose sign per channel is noise), 'positive' for maps that are
        >= 0 by construction and for LIME's superpixels.
    """

    name: str
    target: str
    family: str
    explains: str
    needs: str
    figure: str
    function: str
    composable: bool
    summary: str
    figure_map: str = "positive"

    def load(self):
        """The engine class (its module is imported now)."""
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def _spec(name, target, explains, needs, figure, composable, summary, figure_map="positive") -> MethodSpec:
    if figure_map not in ("signed", "absolute", "positive"):
        raise ValueError(f"figure_map of {name!r} must be 'signed', 'absolute' or 'positive'")
    return MethodSpec(name=name, target=target, family=target.split(".")[0], explains=explains, needs=needs,
                      figure=figure, function=name, composable=composable, summary=summary, figure_map=figure_map)


METHODS = {spec.name: spec for spec in (
    _spec("lime", "lime.lime_image:LimeImage", "image", "black_box", "lime", True,
          "LIME: a weighted linear model of the class probability over hidden superpixels"),
    _spec("normlime", "lime.normlime:NormLime", "image", "black_box", "normlime", False,
          "NormLIME: LIME with global weights of superpixel clusters learnt over a dataset"),
    _spec("glime", "lime.glime:GLime", "image", "black_box", "lime", False,
          "G-LIME: LIME whose local fit is pulled towards the NormLIME global weights"),
    _spec("smoothgrad", "gradients.smoothgrad:SmoothGrad", "image", "gradients", "pixel", True,
          "SmoothGrad: the input gradient averaged over noisy copies of the image", "absolute"),
    _spec("intgrad", "gradients.integrated_gradients:IntegratedGradients", "image", "gradients", "pixel", True,
          "Integrated Gradients: (input - baseline) x the gradient averaged along the straight path", "signed"),
    _spec("gradshap", "gradients.gradient_shap:GradientShap", "image", "gradients", "pixel", True,
          "GradientSHAP: expected gradients at random points between noisy inputs and baselines", "signed"),
    _spec("occlusion", "perturbation.occlusion:Occlusion", "image", "black_box", "pixel", True,
          "Occlusion: the drop of the class score when a sliding window is hidden", "signed"),
    _spec("gradcam", "cam.gradcam:GradCAM", "image", "layers", "pixel", True,
          "Grad-CAM: a layer's feature maps weighted by their mean gradient, rectified"),
    _spec("scorecam", "cam.scorecam:ScoreCAM", "image", "layers", "pixel", True,
          "Score-CAM: feature maps weighted by the class score of the input they mask"),
    _spec("lrp", "lrp.lrp:LRP", "image", "layers", "pixel", True,
          "LRP: relevance of the class logit propagated back layer by layer", "signed"),
    _spec("consensus", "consensus:Consensus", "image", "gradients", "pixel", False,
          "Consensus: one method over several models, each map normalised, then averaged"),
    _spec("lime_text", "lime.lime_text:LimeText", "text", "black_box", "html", False,
          "Text LIME: a weighted linear model of the class probability over hidden tokens", "signed"),
    # -- transformers (attention family) --
    _spec("rollout", "transformer.rollout:Rollout", "image", "attention", "pixel", False,
          "Attention Rollout: the blocks' head-fused attention plus identity, multiplied layer by layer"),
    _spec("tam", "transformer.tam:TAM", "image", "attention", "pixel", False,
          "TAM: attention as Markov transitions carried back from the last block, weighted by integrated gradients"),
    _spec("generic_attention", "transformer.generic_attention:GenericAttention", "image", "attention", "pixel", False,
          "Generic Attention (Chefer 2021): R <- R + mean_h((grad * A)^+) R, rectified per head"),
    _spec("bidirectional", "transformer.bidirectional:Bidirectional", "image", "attention", "pixel", False,
          "Bidirectional (BT): gradient-weighted heads or token norms, times the last block's integrated gradients"),
    _spec("vit_gradcam", "transformer.token_gradcam:TokenGradCAM", "image", "attention", "pixel", False,
          "Grad-CAM on a ViT's patch tokens (the tokens entering a block, on the derived patch grid)"),
    _spec("rollout_text", "transformer.rollout:RolloutText", "text", "attention", "html", False,
          "Attention Rollout on an ERNIE/BERT text classifier: the [CLS] row per content token"),
    _spec("tam_text", "transformer.tam:TAMText", "text", "attention", "html", False,
          "TAM on an ERNIE/BERT text classifier (integrated gradients over scaled token embeddings)"),
    _spec("generic_attention_text", "transformer.generic_attention:GenericAttentionText", "text", "attention",
          "html", False, "Generic Attention (Chefer 2021) on an ERNIE/BERT text classifier"),
    _spec("bidirectional_text", "transformer.bidirectional:BidirectionalText", "text", "attention", "html", False,
          "Bidirectional (BT) on an ERNIE/BERT text classifier, head or token mode"),
    _spec("generic_attention_clip", "transformer.generic_attention_clip:GenericAttentionCLIP", "image_text",
          "attention", "pixel", False,
          "Generic Attention on a CLIP-style two-tower model: the image patches and text tokens behind one match"),
    # -- text: gradients on token embeddings, occlusion --
    _spec("intgrad_text", "gradients.text_integrated_gradients:TextIntegratedGradients", "text", "gradients", "html",
          False, "Text Integrated Gradients: (embeddings - baseline) x the gradient averaged along the path", "signed"),
    _spec("smoothgrad_text", "gradients.text_smoothgrad:TextSmoothGrad", "text", "gradients", "html", False,
          "Text SmoothGrad: embeddings x the gradient averaged over noisy embeddings", "signed"),
    _spec("gradshap_text", "gradients.text_gradient_shap:TextGradientShap", "text", "gradients", "html", False,
          "Text GradientSHAP: expected gradients between noisy embeddings and baseline sequences", "signed"),
    _spec("occlusion_text", "perturbation.text_occlusion:TextOcclusion", "text", "black_box", "html", False,
          "Text occlusion: the drop of the class probability when a window of tokens is hidden", "signed"),
    _spec("normlime_text", "lime.normlime_text:NormLimeText", "text", "black_box", "html", False,
          "Text NormLIME: global word or token weights learnt by text LIME over a corpus", "signed"),
)}


def get_method(name: str) -> MethodSpec:
    """The :class:`MethodSpec` called ``name``; a ValueError lists the valid names otherwise."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)}")
    return METHODS[name]


def available(explains: Optional[str] = None, needs: Optional[str] = None,
              composable: Optional[bool] = None) -> List[MethodSpec]:
    """Every method, optionally only those that explain ``explains``, need ``needs`` or are
    ``composable`` (usable in ``compare``/``consensus``), in table order."""
    if explains is not None and explains not in EXPLAINS:
        raise ValueError(f"explains must be one of {EXPLAINS}, got {explains!r}")
    if needs is not None and needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")
    return [s for s in METHODS.values()
            if (explains is None or s.explains == explains) and (needs is None or s.needs == needs)
            and (composable is None or s.composable == composable)]


def method_names(**filters) -> List[str]:
    """The names of :func:`available` methods."""
    return [s.name for s in available(**filters)]
