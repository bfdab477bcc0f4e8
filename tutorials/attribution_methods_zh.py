"""教程：在一张照片上运行逐像素归因方法（端到端，完全离线）。

演示模型是带真实 ImageNet 权重的 EfficientNet-Lite0，图片是 scikit-image 自带的 'chelsea'
（一只猫）。每一节用一种方法回答同一个问题：是哪些像素让模型给出了它的第一预测类别？
每种方法的结果图写入 --save-dir，并打印热力图最强的位置。最后一节把五种方法并排比较。

    python tutorials/attribution_methods_zh.py           # 在 2 核 CPU 上需要几分钟
    python tutorials/attribution_methods_zh.py --fast    # 极小的设置（约一分钟），结果很粗略
"""
import argparse
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import demo, interpret
from paddlex_interpret.vis import saliency_of


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="在演示模型和演示图片上运行的归因方法教程。")
    parser.add_argument("--save-dir", default="./output/tutorial_methods", help="保存结果图的目录")
    parser.add_argument("--fast", action="store_true", help="极小的设置：每一步都会运行，但结果很粗略")
    return parser.parse_args(argv)


def peak(explanation):
    """结果图中显示的热力图（vis.saliency_of：支持该类别的证据）最大的位置。"""
    s = saliency_of(explanation)
    row, col = np.unravel_index(int(np.argmax(s)), s.shape)
    return f"最大值在第 {row} 行、第 {col} 列（图像 {s.shape[0]}x{s.shape[1]}）"


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    fast = args.fast
    n_samples = 4 if fast else 50        # SmoothGrad：加噪副本数（每个一次前向 + 一次反向）
    shap_samples = 4 if fast else 20     # GradientSHAP：随机抽样次数
    steps = 8 if fast else 200           # 积分梯度：路径上的点数
    window = 56 if fast else 32          # 遮挡：窗口边长和步长（像素）
    scorecam_layer = "_blocks.2" if fast else "_blocks.7"   # 24 或 80 个通道 = 前向次数
    lime_samples = 30 if fast else 800   # 比较图中 LIME 的采样数

    # -- 1. 模型和照片 ---------------------------------------------------------------------
    model = demo.load_model()
    path = demo.image_paths()[0]
    image = model.image_as_explained(path)      # 缩放并裁剪为 224x224，即被解释的图像
    index, label, prob = model.top_classes(image, k=1)[0]
    print(f"照片 {Path(path).stem}：模型预测为 {label}（类别 {index}），概率 {prob:.3f}")
    print("下面每种方法都解释这个类别。\n")

    # -- 2. SmoothGrad：对图像的多个加噪副本求输入梯度，再取平均 ------------------------------
    # styles 决定结果图的子图：这里用全部四种（heatmap、overlay、grayscale、threshold）。
    exp = interpret.smoothgrad(path, model, save_dir=save_dir, n_samples=n_samples, random_state=0,
                               styles=("heatmap", "overlay", "grayscale", "threshold"))
    print(f"[SmoothGrad] {exp.figure_path}：{peak(exp)}")

    # -- 3. 积分梯度（Integrated Gradients）及其完备性检验 ------------------------------------
    # 使用 gradient_of='logit' 时，归因值之和应等于 f(x) - f(基线)，f 为该类别的 logit；
    # 默认基线是归一化输入空间中的全零图像（即数据集的平均颜色）。
    exp = interpret.intgrad(path, model, save_dir=save_dir, steps=steps, gradient_of="logit")
    x = paddle.to_tensor(model.preprocess(image[None]))
    with paddle.no_grad(), model.eval_context():
        f_x = float(model.forward(x)[0, exp.target])
        f_b = float(model.forward(paddle.zeros_like(x))[0, exp.target])
    total = float(exp.attribution.sum())
    gap = abs(total - (f_x - f_b)) / abs(f_x - f_b)
    print(f"[积分梯度] {exp.figure_path}：{peak(exp)}")
    print(f"  完备性，{steps} 步：归因值之和 {total:.3f}，"
          f"f(x) - f(基线) = {f_x:.3f} - ({f_b:.3f}) = {f_x - f_b:.3f}（相差 {100 * gap:.1f}%）")

    # -- 4. GradientSHAP：在加噪输入与基线之间的随机点上求梯度 ---------------------------------
    exp = interpret.gradshap(path, model, save_dir=save_dir, n_samples=shap_samples, random_state=0)
    print(f"[GradientSHAP] {exp.figure_path}：{peak(exp)}")

    # -- 5. 遮挡（Occlusion）：每次遮住一个窗口，观察概率下降多少 ------------------------------
    # 这里窗口等于步长，窗口正好铺满图像，每个像素的值就是它所在窗口被遮住时的概率下降。
    exp = interpret.occlusion(path, model, save_dir=save_dir, sliding_window_shapes=(3, window, window),
                              strides=window, progress=False)
    drop = exp.attribution[0]          # 窗口覆盖全部 3 个通道：三个通道的图相同
    row, col = np.unravel_index(int(np.argmax(drop)), drop.shape)   # 影响最大的窗口的左上角像素
    print(f"[遮挡] {exp.figure_path}：{peak(exp)}")
    print(f"  遮住第 {row}-{row + window - 1} 行、第 {col}-{col + window - 1} 列，概率下降 {drop.max():.3f}")

    # -- 6. Grad-CAM：用平均梯度给较深层的特征图加权 -------------------------------------------
    exp = interpret.gradcam(path, model, save_dir=save_dir)
    lowres = exp.extras["lowres"]
    print(f"[Grad-CAM] {exp.figure_path}：{peak(exp)}")
    print(f"  默认的层：{exp.params['target_layer']!r}（{lowres.shape[0]}x{lowres.shape[1]} 的图，再上采样）")

    # -- 7. Score-CAM：把每张特征图当作掩码；每个通道一次前向计算 -------------------------------
    # 默认的层 '_bn1' 有 1280 个通道（在 CPU 上要几分钟）；这里选的层通道少得多。
    exp = interpret.scorecam(path, model, save_dir=save_dir, target_layer=scorecam_layer, progress=False)
    print(f"[Score-CAM] {exp.figure_path}：{peak(exp)}（层 {scorecam_layer!r}）")

    # -- 8. LRP：把该类别的 logit 逐层反向传播（epsilon 规则） -----------------------------------
    exp = interpret.lrp(path, model, save_dir=save_dir)
    print(f"[LRP] {exp.figure_path}：{peak(exp)}")
    # 在这个很深的网络上，epsilon 和偏置在反向传播途中吸收了 logit 的大部分；
    # 结果图按热力图自身的范围缩放，所以只有相对大小有意义。
    print(f"  输入处的相关性之和为 {exp.attribution.sum():.3f}；logit 为 {f_x:.3f}")

    # -- 9. Consensus：同一种方法用于多个模型，每个模型的图归一化后取平均 -------------------------
    # 实际使用时应传入多个训练好的模型。这个演示只有一个真实模型，这里把它传入两次只是为了
    # 演示调用方式：此时 consensus 的结果就等于该模型自己的图（按最大值归一化）。
    exp = interpret.consensus(path, [model, model], method="gradcam", save_dir=save_dir)
    single = interpret.gradcam(path, model, save_dir=None).attribution
    same = np.allclose(exp.attribution, single / single.max(), atol=1e-6)
    print(f"[Consensus] {exp.figure_path}：{peak(exp)}")
    print(f"  每个模型的图 {exp.extras['per_model'].shape}；与单个 Grad-CAM 图相同：{same}")

    # -- 10. 五种方法并排比较 ---------------------------------------------------------------
    # method_params 传给各方法的引擎类。LIME 的子图显示其正向的超像素权重。
    params = {
        "lime": {"num_samples": lime_samples, "random_state": 0},
        "smoothgrad": {"n_samples": min(n_samples, 25), "random_state": 0},
        "intgrad": {"steps": min(steps, 50)},
        "occlusion": {"sliding_window_shapes": (3, window, window), "strides": window, "progress": False},
    }
    explanations = interpret.compare(path, model, methods=["lime", "gradcam", "smoothgrad", "intgrad", "occlusion"],
                                     method_params=params, save_dir=save_dir)
    print(f"[比较] {explanations[0].figure_path}")
    for e in explanations:
        print(f"  {e.method:<10} {peak(e)}")
    print(f"\n完成。所有输出都在 {save_dir.resolve()}")


if __name__ == "__main__":
    main()
