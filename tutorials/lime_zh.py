"""教程：用 LIME 解释一个 ImageNet 分类模型（端到端，完全离线）。

演示模型是带真实 ImageNet 权重的 EfficientNet-Lite0，图片是 scikit-image 自带的两张照片：
'chelsea'（一只猫）和 'coffee'（一杯浓缩咖啡）。对每张照片，我们想知道：是哪些超像素
（颜色相近的小区域）让模型给出了它的第一预测类别。

    python tutorials/lime_zh.py                      # 每张图 1000 个采样
    python tutorials/lime_zh.py --num-samples 300    # 更快，但更粗略
"""
import argparse
from pathlib import Path

import numpy as np

from paddlex_interpret import demo, interpret
from paddlex_interpret.engine import load_explanation


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="在演示模型和演示图片上运行的 LIME 教程。")
    parser.add_argument("--num-samples", type=int, default=1000, help="每次解释使用的扰动图像数")
    parser.add_argument("--batch-size", type=int, default=50, help="每次前向计算的图像数（只影响内存）")
    parser.add_argument("--save-dir", default="./output/tutorial_lime", help="保存图和 .npz 文件的目录")
    parser.add_argument("--no-progress", action="store_true", help="不显示进度条")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    # 下面每次调用都用同样的设置；random_state=0 保证每次运行结果完全一致。
    options = dict(num_samples=args.num_samples, batch_size=args.batch_size,
                   random_state=0, progress=not args.no_progress)

    # -- 1. 模型：一个 Classifier，自带预处理和 1000 个类别名 --------------------------------
    model = demo.load_model()

    for path in demo.image_paths():
        name = Path(path).stem
        print(f"\n=== {name} ===")

        # -- 2. 模型预测了什么？LIME 解释的正是这张（缩放、裁剪后的）图像 -----------------------
        image = model.image_as_explained(path)
        top5 = model.top_classes(image, k=5)
        print("前 5 个类别：")
        for rank, (index, label, prob) in enumerate(top5, start=1):
            print(f"  {rank}. {label:<20} 类别 {index:>3}   概率 {prob:.3f}")

        # -- 3. 解释第一预测类别；2x5 的结果图写入 save_dir -----------------------------------
        exp = interpret.lime(path, model, save_dir=save_dir, **options)
        print(f"结果图：{exp.figure_path}")
        print(f"解释的类别：{exp.label_name}（类别 {exp.target}），概率 {exp.probability:.3f}")
        print(f"局部拟合 R^2 = {exp.score:.3f}，共 {exp.num_superpixels} 个超像素")
        if args.num_samples < 10 * exp.num_superpixels:
            print("  （每个超像素的采样少于约 10 个：R^2 和排序只能作粗略参考）")

        # -- 4. 对该类别支持最强的超像素 ---------------------------------------------------
        weights = exp.weights[exp.target]
        print("最重要的超像素：")
        for sp in exp.ranked_superpixels(positive_only=True)[:5]:
            pixels = int(np.sum(exp.segments == sp))
            print(f"  超像素 {sp:>3}：权重 {weights[sp]:+.4f}，{pixels:>5} 个像素")

        # -- 5. 保存解释结果（不用 pickle）并重新读入 ------------------------------------------
        saved = exp.save(save_dir / f"{name}_lime_s{args.num_samples}.npz")
        again = load_explanation(saved)
        same = np.array_equal(again.weights[again.target], weights) and again.params == exp.params
        print(f"已保存到 {saved}；重新读入：{again.label_name}，与原结果一致：{same}")

    # -- 6. 解释另一个类别，并显示不利于它的证据 ----------------------------------------------
    # 猫照片的第二预测类别是另一种猫。哪些区域支持这个类别？
    # show_negative=True 会把降低该类别概率的超像素也画出来（红色）。
    # 指定 target 时，结果图文件名会带上类别编号：<名称>_lime_s<N>_class<k>.png，不会覆盖上面的图。
    path = demo.image_paths()[0]
    second_index, second_label, _ = model.top_classes(model.image_as_explained(path), k=5)[1]
    other = interpret.lime(path, model, save_dir=save_dir, target=second_index,
                           show_negative=True, **options)
    print(f"\n=== {Path(path).stem}：第二预测类别 ===")
    print(f"解释的类别：{other.label_name}（类别 {other.target}），概率 {other.probability:.3f}，"
          f"R^2 = {other.score:.3f}")
    print(f"带红色（反向）超像素的结果图：{other.figure_path}")
    w = other.weights[other.target]
    against = [int(sp) for sp in np.argsort(w, kind="stable")[:5] if w[sp] < 0]
    print(f"最不利于 {second_label} 的超像素：{against}")
    print(f"\n完成。所有输出都在 {save_dir.resolve()}")


if __name__ == "__main__":
    main()
