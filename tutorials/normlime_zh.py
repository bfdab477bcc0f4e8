"""教程：在 ImageNet 分类模型上运行 NormLIME 和 G-LIME（端到端，离线也能运行）。

NormLIME（Ahern et al. 2019）为 LIME 加入“全局”知识：它在一个数据集上学习，对每个类别，哪几类
超像素（用 ResNet50_vc 前三层的特征做 k-means 聚类得到的簇，即“先验”）通常是重要的。PaddleX 的
图因此有三行：LIME（只看这张图）、NormLIME（每个超像素所属簇的全局权重）和 Combined（二者之积）。
G-LIME 把同样的全局权重当作先验，把 LIME 的局部拟合拉向它们。

先验文件。PaddleX 会下载它们（pre_models.tar.gz：ResNet50_vc 主干前三层的权重 + k-means 模型）。
本教程先尝试获取这些真实文件（下载，或使用你手动放好的压缩包）。没有网络时，它改为构建一个
“演示用”先验：在几张照片的超像素上做 k-means，特征来自一个“随机初始化”的主干。之后每一步都与
使用真实文件时完全相同，但全局权重（NormLIME 行、Combined 行以及 G-LIME 的拉力）只作示意。
要得到有意义的权重：联网运行一次，或按打印的提示手动放置压缩包，或用 --assets-dir 指定，或用
真实的 ResNet50_vc/vd 主干构建自己的先验：  paddlex-interpret build-prior --images DIR --out DIR
--stem-weights ResNet50_vc_pretrained.pdparams

    python tutorials/normlime_zh.py                       # 每次解释 1000 个采样
    python tutorials/normlime_zh.py --num-samples 300     # 更快，但更粗略
    python tutorials/normlime_zh.py --assets-dir ~/.paddlex/pre_models
"""
import argparse
import time
from pathlib import Path

import numpy as np

from paddlex_interpret import demo, interpret
from paddlex_interpret.priors import PriorAssetsError, asset_problems, ensure_prior_assets, write_lod_tensor
from paddlex_interpret.priors.build import build_prior
from paddlex_interpret.priors.download import PARAM_SHAPES
from paddlex_interpret.vis import save_lime_figure

STRONG_PRIOR = 1000.0  # 足够大的 prior_reg_force：先验主导局部拟合


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="在演示模型和照片上运行的 NormLIME 与 G-LIME 教程。")
    parser.add_argument("--num-samples", type=int, default=1000, help="每次解释的扰动图片数")
    parser.add_argument("--batch-size", type=int, default=50, help="每次前向计算的图片数（只影响内存）")
    parser.add_argument("--save-dir", default="./output/tutorial_normlime", help="所有输出的文件夹")
    parser.add_argument("--assets-dir", default=None,
                        help="存放真实先验文件的文件夹（kmeans_model.pkl + 15 个 for_kmeans_* 文件）")
    parser.add_argument("--no-progress", action="store_true", help="不显示进度条")
    return parser.parse_args(argv)


def write_photos(folder: Path):
    """一个由真实照片组成的小“数据集”（scikit-image 和 scikit-learn 自带）。"""
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder.mkdir(parents=True, exist_ok=True)
    photos = {name: getattr(skimage.data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")}
    photos["motorcycle"] = skimage.data.stereo_motorcycle()[0]
    sample = load_sample_images()
    for file_name, image in zip(sample.filenames, sample.images):
        photos[Path(file_name).stem] = image  # china、flower
    for name, image in photos.items():
        Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB").save(folder / f"{name}.png")
    return folder / "chelsea.png"


def random_stem(folder: Path) -> Path:
    """15 个随机初始化的主干参数，使用 PaddleX 先验文件的旧版文件格式。"""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, shape in PARAM_SHAPES.items():
        if name.endswith("_weights"):  # 卷积核：He 初始化
            fan_in = shape[1] * shape[2] * shape[3]
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        elif name.endswith("_scale"):
            value = np.ones(shape)
        elif name.endswith("_variance"):  # 必须为正
            value = rng.uniform(0.5, 1.5, size=shape)
        else:  # offset、mean
            value = rng.normal(0.0, 0.1, size=shape)
        write_lod_tensor(folder / name, value.astype(np.float32))
    return folder


def get_prior(args, save_dir: Path, photos: Path, progress: bool):
    """返回 (先验文件夹, 是否真实)。"""
    if args.assets_dir:
        problems = asset_problems(args.assets_dir)
        if problems:
            raise SystemExit(f"--assets-dir '{args.assets_dir}' 不是先验文件夹：" + "; ".join(problems))
        return Path(args.assets_dir), True
    try:
        return ensure_prior_assets(progress=progress), True
    except PriorAssetsError as exc:
        print("无法获取 PaddleX 的先验文件：")
        print("  " + str(exc).replace("\n", "\n  "))
    # 离线：构建“演示用”先验。k-means 在真实照片上拟合，但描述每个超像素的主干是随机的，
    # 所以这些簇（以及所有全局权重）没有学到的含义。换成真实主干：
    # build_prior(..., stem_weights='<ResNet50_vc 或 ResNet50_vd 的 .pdparams>')，
    # 或 `paddlex-interpret build-prior --stem-weights ...`。
    demo_prior = save_dir / "demo_prior"
    if not asset_problems(demo_prior):
        print(f"复用 {demo_prior} 中的演示用先验")
    else:
        print("正在构建演示用先验：在这些照片的超像素上做 k-means（8 个簇），")
        print("主干是随机初始化的 ResNet50_vc（离线时没有真实权重）。")
        stem = random_stem(save_dir / "random_stem")
        build_prior(images=photos, out_dir=demo_prior, clusters=8, stem_weights=stem, progress=progress,
                    overwrite=True)
    print("  -> 下面的全局权重只作示意。要得到真实权重：联网运行一次，或把 pre_models.tar.gz 放到")
    print("     上面提示的位置，或使用 --assets-dir，或用以下命令构建先验：")
    print("     `paddlex-interpret build-prior --images DIR --out DIR --stem-weights <ResNet50_vc/vd .pdparams>`。")
    return demo_prior, False


def top(explanation, k=5):
    """被解释类别权重最大的 k 个超像素，最重要的在前。"""
    w = explanation.weights[explanation.target]
    return [int(sp) for sp in np.argsort(-w, kind="stable")[:k]]


def correlation(a, b) -> str:
    """Pearson 相关系数（文本）；一方为常数时（如均匀先验）为 'n/a'。"""
    if np.std(a) == 0 or np.std(b) == 0:
        return "n/a"
    return f"{np.corrcoef(a, b)[0, 1]:+.2f}"


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    progress = not args.no_progress
    options = dict(num_samples=args.num_samples, batch_size=args.batch_size, random_state=0, progress=progress)

    # -- 1. 模型，以及一个放真实照片的小文件夹（用于计算全局权重的数据集） --
    model = demo.load_model()
    photos = save_dir / "photos"
    chelsea = write_photos(photos)
    print(f"照片：{sorted(p.name for p in photos.iterdir())}")

    # -- 2. 先验：尽量用 PaddleX 的真实文件，否则用演示用先验 --
    assets, real = get_prior(args, save_dir, photos, progress)
    print(f"先验文件：{assets}（{'真实' if real else '演示用，随机主干'}）")

    # -- 3. NormLIME。第一次调用在这些照片上计算全局权重，写入 save_dir/normlime_weights.npz
    #       （不用 pickle）；4x5 的图写入 save_dir。
    weights_file = save_dir / "normlime_weights.npz"
    weights_file.unlink(missing_ok=True)  # 从头开始，这样第 4 步才真正展示复用
    start = time.perf_counter()
    result = interpret.normlime(chelsea, model, dataset=photos, save_dir=save_dir, assets_dir=assets, **options)
    first_s = time.perf_counter() - start
    print(f"\n解释的类别：{result.lime.label_name}（类别 {result.target}），p = {result.lime.probability:.3f}")
    print(f"图：{result.figure_path}")
    print(f"全局权重文件：{result.weights_file}")
    print(f"最重要的超像素（共 {result.lime.num_superpixels} 个）：")
    print(f"  LIME     : {top(result.lime)}")
    print(f"  NormLIME : {top(result.normlime)}")
    print(f"  Combined : {top(result.combined)}")

    # -- 4. 再调用一次，不给数据集：权重文件与模型和先验匹配，因此被复用
    #       （过期或损坏的文件在这里会报错，因为没有数据集可以重新计算）。
    written = Path(result.weights_file).stat().st_mtime_ns
    start = time.perf_counter()
    again = interpret.normlime(chelsea, model, save_dir=save_dir, assets_dir=assets, **options)
    second_s = time.perf_counter() - start
    reused = again.weights_file == result.weights_file and Path(again.weights_file).stat().st_mtime_ns == written
    print(f"\n第二次调用（无数据集）：权重文件已复用（未重新计算）：{reused}（{again.weights_file}）")
    print(f"  第一次调用（全局权重 + 解释）：{first_s:.1f} 秒；第二次调用：{second_s:.1f} 秒")

    # -- 5. G-LIME：局部拟合被拉向 NormLIME 权重（先验）。拉力小时排序接近 LIME，
    #       拉力大时排序移向先验的排序。
    prior = result.normlime.weights[result.target]
    print("\nG-LIME（先验 = 每个超像素的 NormLIME 权重；同一簇的超像素权重相同）：")
    print(f"  {'普通 LIME':<22}: top {top(result.lime)}, 与先验的相关系数："
          f"{correlation(result.lime.weights[result.target], prior)}, "
          f"它们的先验权重 {np.round(prior[top(result.lime)], 3).tolist()}")
    for force in (1.0, STRONG_PRIOR):
        exp = interpret.glime(chelsea, model, save_dir=save_dir, assets_dir=assets, prior_reg_force=force,
                              save_figure=(force == 1.0), **options)
        if force != 1.0:  # 默认文件名 <图片名>_glime_s<N>.png 会覆盖第一张图
            exp.figure_path = str(save_lime_figure(exp, save_dir / f"chelsea_glime_s{args.num_samples}_force{force:g}.png"))
        # 同一张图、同一个种子 -> 与 NormLIME 结果相同的超像素，所以权重可以与先验逐个比较。
        ranked = top(exp)
        label = f"prior_reg_force {force:g}"
        if np.array_equal(exp.segments, result.segments):
            print(f"  {label:<22}: top {ranked}, 与先验的相关系数："
                  f"{correlation(exp.weights[exp.target], prior)}, "
                  f"它们的先验权重 {np.round(prior[ranked], 3).tolist()}")
        else:
            print(f"  {label:<22}: top {ranked}（超像素与 NormLIME 结果不同）")
        print(f"  {'':<22}  图 {exp.figure_path}")
    print(f"  （最大先验权重：{prior.max():.3f}；拉力越强，排在前面的超像素越多来自先验偏好的簇）")
    if not real:
        print("  （演示用先验：这里展示的是机制，而不是模型学到的东西）")
    print(f"\n完成。所有输出都在 {save_dir.resolve()}")


if __name__ == "__main__":
    main()
