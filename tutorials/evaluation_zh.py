"""教程：解释结果有多可信？在三张真实照片上为四种方法打分。

演示模型（带真实 ImageNet 权重的 EfficientNet-Lite0）对三张照片——scikit-image 自带的
'chelsea'（猫）、'coffee'（浓缩咖啡）和 'rocket'（火箭）——的第一预测类别分别用 LIME、
Grad-CAM、SmoothGrad 和积分梯度给出解释。然后 ``interpret.evaluate`` 为每个解释打分：
按解释排在前面的像素被删除或放回时模型的反应（deletion、insertion、MoRF、LeRF），
解释能否预测遮住方块后的概率变化（infidelity），以及在给出物体框的照片上，解释是否指向物体
（pointing game）。脚本为每张照片打印一张表（以两张随机解释图作为参照），给四种方法排名，
最后做一次合理性检验（sanity check）：模型权重被破坏后，解释会不会随之改变？

    python tutorials/evaluation_zh.py           # 在 2 核 CPU 上约需九分钟
    python tutorials/evaluation_zh.py --fast    # 极小的设置，只用一张照片（一分钟内），数值很粗略
"""
import argparse
import time
import unicodedata
from pathlib import Path

import numpy as np
import skimage.data

from paddlex_interpret import demo, evaluate, interpret
from paddlex_interpret.engine import PixelExplanation
from paddlex_interpret.engine.gradients import SmoothGrad
from paddlex_interpret.evaluate.sanity import map_similarity

METHODS = ("lime", "gradcam", "smoothgrad", "intgrad")
CURVES = ("deletion", "insertion", "morf", "lerf")
# 手工标注的物体框，坐标是被解释图像（缩放并中心裁剪后的 224x224）中的像素位置：
# (x1, y1, x2, y2)，x 为列，y 为行，右下角不包含在内。
# 'chelsea' 没有框：猫占满了整个画面，框就是整张图。
BOXES = {"coffee": (30, 0, 182, 140),    # 杯子，不含托盘和勺子
         "rocket": (98, 56, 126, 224)}   # 中间的火箭，不含两侧的塔架


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="在真实照片上评估演示模型的解释结果。")
    parser.add_argument("--save-dir", default="./output/tutorial_evaluation", help="保存结果图的目录")
    parser.add_argument("--fast", action="store_true", help="极小的设置，只用一张照片：每一步都会运行，但数值很粗略")
    return parser.parse_args(argv)


def photo_paths(fast):
    folder = Path(skimage.data.__file__).parent
    chelsea, coffee = demo.image_paths()
    rocket = folder / "rocket.jpg"
    # --fast 只保留火箭：它有物体框，pointing game 也会运行
    return [rocket] if fast else [chelsea, coffee, rocket]


def width(text):
    """终端中的显示宽度：中文字符占两格。"""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def print_table(rows, columns, better):
    """rows: [(方法, {列名: 值})]；值为浮点数、字符串，或缺失。"""
    cells = [["方法"] + [c for c, _ in columns]]
    for method, values in rows:
        cells.append([method] + [fmt.format(values[c]) if c in values else "-" for c, fmt in columns])
    cells.append(["（更好）"] + [better[c] for c, _ in columns])
    widths = [max(width(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        print("  " + "  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip())


class EdgeMap:
    """一个完全不看模型的“方法”：图像的边缘强度（Sobel 滤波）。

    在合理性检验中作为必然不通过的对照。它遵循检验所需的约定：由分类器构造，
    ``explain(image, target)`` 返回一个解释对象。
    """

    def __init__(self, classifier):
        self.classifier = classifier

    def explain(self, image, target):
        from skimage.filters import sobel

        edges = sobel(image.astype(np.float64).mean(axis=2) / 255.0)
        return PixelExplanation(method="edges", image=image, attribution=edges, target=int(target),
                                label_name=self.classifier.label_name(int(target)), probability=float("nan"))


def random_map(image, target, label, probability, block, seed=0):
    """参照：随机数值构成的解释图，每个像素（block=1）或每个 block x block 方块一个值。"""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    values = rng.random((-(-h // block), -(-w // block)))
    attribution = np.kron(values, np.ones((block, block)))[:h, :w]
    return PixelExplanation(method=f"random_{block}px", image=image, attribution=attribution, target=target,
                            label_name=label, probability=probability)


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    fast = args.fast
    lime_samples = 30 if fast else 300       # LIME：扰动图像数，每张一次前向（300：初步查看）
    sg_samples = 3 if fast else 25           # SmoothGrad：加噪副本数（每个一次前向 + 一次反向）
    ig_steps = 8 if fast else 50             # 积分梯度：路径上的点数
    curve_steps = 5 if fast else 20          # deletion/insertion/MoRF/LeRF：每条曲线 steps + 1 张图
    # infidelity：方块边长（像素）和网格步长；每个方块一次前向
    infidelity = {"sizes": (64,), "stride": 80} if fast else {"sizes": (56,), "stride": 28}

    # -- 1. 模型和照片 ---------------------------------------------------------------------
    model = demo.load_model()
    photos = photo_paths(fast)
    print(f"{len(photos)} 张照片：{'、'.join(Path(p).stem for p in photos)}；"
          f"方法：{'、'.join(METHODS)}\n")

    # -- 2. 评估指标 -----------------------------------------------------------------------
    # deletion  ：按解释的排序先删除最重要的像素（变为灰色 127，分 `steps` 步：逐像素的图每步
    #             像素数相同，LIME 每步删除一组超像素），记录该类别的概率；曲线下面积越低越好。
    # insertion ：从全灰图像开始，先放回最重要的像素；曲线下面积越高越好。
    # morf/lerf ：先删除最相关 / 最不相关的像素。MoRF 就是 deletion 曲线，LeRF 是从另一端读的
    #             insertion 曲线，所以填充和步数相同时二者的面积分别等于 deletion 和 insertion
    #             （下面会验证）；文献中用这两个名字分别报告。
    # infidelity：遮住一个个方块，测量概率下降，与解释在方块内的总和（最优缩放后）比较；
    #             均方误差，越低越好。'relative' 除以概率下降的均方值：0 = 每次下降都被预测，
    #             1 = 不比全零的解释好。
    # point_game：解释图中不低于最大值 25% 的像素相对于物体框的精确率/召回率，分数为二者的 F1
    #             （越高越好）；'hit'：最大值是否落在框内。
    # 梯度类方法按各颜色通道 |归因值| 之和排序；LIME 按超像素的带符号权重排序（支持该类别的证据在前）。
    metric_params = {name: {"steps": curve_steps} for name in CURVES}
    metric_params["infidelity"] = dict(infidelity)
    better = {"deletion": "低", "insertion": "高", "morf": "低", "lerf": "高",
              "infidelity": "低", "relative": "低", "point_game": "高", "hit": "是"}
    columns = [("deletion", "{:.4f}"), ("insertion", "{:.4f}"), ("morf", "{:.4f}"), ("lerf", "{:.4f}"),
               ("infidelity", "{:.5f}"), ("relative", "{:.3f}"), ("point_game", "{:.3f}"), ("hit", "{}")]

    # -- 3. 逐张照片解释并打分 ---------------------------------------------------------------
    scores = {m: {"deletion": [], "insertion": []} for m in METHODS + ("random_1px", "random_32px")}
    largest_gap = 0.0
    for path in photos:
        name = Path(path).stem
        image = model.image_as_explained(path)
        index, label, prob = model.top_classes(image, k=1)[0]
        print(f"== {name}：模型预测为 '{label}'（类别 {index}），概率 {prob:.3f} ==")

        # 每种方法都解释第一预测类别；save_dir=None：不写解释结果图，
        # 下面的评估图会在照片上叠加显示解释，并画出各条曲线。
        explanations, seconds = {}, {}
        for method in METHODS:
            t0 = time.perf_counter()
            if method == "lime":
                exp = interpret.lime(path, model, num_samples=lime_samples, save_dir=None, random_state=0,
                                     progress=False)
            elif method == "gradcam":
                exp = interpret.gradcam(path, model, save_dir=None)
            elif method == "smoothgrad":
                exp = interpret.smoothgrad(path, model, n_samples=sg_samples, save_dir=None, random_state=0)
            else:
                exp = interpret.intgrad(path, model, steps=ig_steps, save_dir=None)
            explanations[method], seconds[method] = exp, time.perf_counter() - t0
        print("  解释用时：" + "，".join(f"{m} {s:.1f} 秒" for m, s in seconds.items()))

        metrics = ["deletion", "insertion", "morf", "lerf", "infidelity"]
        inputs = {}
        if name in BOXES:               # pointing game 需要物体框：evaluate(..., bbox=...)
            metrics.append("point_game")
            inputs["bbox"] = BOXES[name]
        rows, figures = [], []
        for method, exp in explanations.items():
            # save_dir：写出 <name>_<method>_evaluation.png（照片上叠加解释，然后每条曲线一幅子图）；
            # name= 是文件名中使用的图片名。
            report = interpret.evaluate(exp, model, metrics=metrics, metric_params=metric_params,
                                        save_dir=save_dir, name=name, batch_size=50, **inputs)
            values = report.scores()
            values["relative"] = report["infidelity"].details["relative"]
            if "point_game" in report:
                values["hit"] = "是" if report["point_game"].details["hit"] else "否"
            rows.append((method, values))
            figures.append(Path(report.figure_path).name)
            for curve in ("deletion", "insertion"):
                scores[method][curve].append(values[curve])
            largest_gap = max(largest_gap, abs(values["morf"] - values["deletion"]),
                              abs(values["lerf"] - values["insertion"]))
        # 参照：随机解释图，只计算 deletion 和 insertion（不写结果图）。逐像素的随机值像梯度类
        # 方法的解释一样分散；32 像素的方块则像 Grad-CAM 的 7x7 网格和 LIME 的超像素一样粗。
        for block in (1, 32):
            reference = random_map(image, index, label, prob, block)
            report = interpret.evaluate(reference, model, metrics=["deletion", "insertion"],
                                        metric_params={c: metric_params[c] for c in ("deletion", "insertion")})
            rows.append((reference.method, report.scores()))
            for curve in ("deletion", "insertion"):
                scores[reference.method][curve].append(report[curve].score)
        print_table(rows, [c for c in columns if any(c[0] in v for _, v in rows)], better)
        if name in BOXES:
            print(f"  point_game：相对于物体框 {BOXES[name]}（x1, y1, x2, y2）的 F1")
        print(f"  结果图：{'，'.join(figures)}\n")

    print(f"每种方法都有 MoRF = deletion、LeRF = insertion（最大差值 {largest_gap:.1e}）。")
    print("分数用于比较同一张照片、同一类别上的方法；不同照片上的概率水平不同。\n")

    # -- 4. 方法排名 ---------------------------------------------------------------------------
    # 对所有照片取平均；deletion 越低越好，insertion 越高越好。
    print(f"方法排名（{len(photos)} 张照片的平均）")
    for curve, higher in (("deletion", False), ("insertion", True)):
        means = {m: float(np.mean(scores[m][curve])) for m in METHODS}
        order = sorted(METHODS, key=lambda m: -means[m] if higher else means[m])
        ranked = "  ".join(f"{i}. {m} {means[m]:.4f}" for i, m in enumerate(order, 1))
        print(f"  按平均 {curve}（{'越高越好' if higher else '越低越好'}）：{ranked}")
        print(f"    参照：random_1px {np.mean(scores['random_1px'][curve]):.4f}，"
              f"random_32px {np.mean(scores['random_32px'][curve]):.4f}")
    print("  请对照随机解释图来读排名。分散在照片各处的灰色像素会破坏照片的纹理，所以逐像素的随机解释图\n"
          "  就能得到很低的 deletion 分数：分散的解释（SmoothGrad、积分梯度）应与 random_1px 比较，粗粒度\n"
          "  的解释（Grad-CAM、LIME）应与 random_32px 比较。只有胜过同类随机解释图时，方法才提供了信息；\n"
          "  deletion 和 insertion 的结论不一定一致。使用 --fast 时解释太粗略，排名没有多大意义。\n")

    # -- 5. 合理性检验：模型参数随机化（Adebayo et al. 2018）-----------------------------------
    # 对一个模型的解释，在模型被破坏后必须改变。检验先用训练好的模型解释照片，然后从输出端开始
    # 逐组重新初始化网络的顶层子层（级联方式，在深拷贝上进行：`model` 本身不受影响），并把每一步
    # 的新解释与原解释比较（|解释图| 的 Spearman 秩相关，以及 SSIM）。method_factory 为每个模型
    # 构造方法；固定其随机种子，使两张图之间只有模型不同。
    path = demo.image_paths()[0]                  # chelsea
    image = model.image_as_explained(path)
    target = model.top_classes(image, k=1)[0][0]
    check = evaluate.get_metric("model_randomization")(
        method_factory=lambda clf: SmoothGrad(clf, n_samples=sg_samples, random_state=0), granularity="top")
    result = check.check(model, image)
    d = result.details
    print(f"合理性检验，照片 {Path(path).stem}：SmoothGrad（{sg_samples} 个样本），类别 "
          f"'{model.label_name(target)}'，概率 {d['original_probability']:.3f}")
    print("  随机化到的层      spearman  ssim    p(类别)   随机化后模型的第一类别")
    for i, layer in enumerate(d["layers"]):
        print(f"  {layer:<17} {d['spearman'][i]:>8.3f}  {d['ssim'][i]:>6.3f}  {d['probability'][i]:>8.4f}  "
              f"{model.label_name(int(d['top1'][i]))}")
    print(f"  分数（整个网络随机化后的 spearman，越低越能通过）：{result.score:.3f}")

    # 作为参照：训练好的模型换一个噪声种子得到的解释。它说明解释本身的可复现程度；检验中所有解释
    # 使用同一个种子，共享的噪声会让检验的数值比跨种子比较略高一些。
    seed0 = SmoothGrad(model, n_samples=sg_samples, random_state=0).explain(image, target)
    seed1 = SmoothGrad(model, n_samples=sg_samples, random_state=1).explain(image, target)
    print(f"  参照：训练好的模型，种子 0 与种子 1：spearman {map_similarity(seed0, seed1, 'spearman'):.3f}")

    # 不看模型的方法不能通过：照片的边缘图始终是同一张图。
    edges = evaluate.get_metric("model_randomization")(method_factory=EdgeMap, granularity="top").check(model, image)
    print(f"  边缘检测（不看模型）：每一步的 spearman "
          f"{', '.join(f'{v:.2f}' for v in edges.details['spearman'])}  -> 不通过")
    print("  如何解读：p(类别) 降到约 0，第一类别也变了，说明模型确实被破坏了。如果一种方法的相似度在\n"
          "  开始随机化后就远低于 1，并在整个网络随机化后接近 0，它就通过了检验：它的解释依赖模型学到\n"
          "  的东西。如果相似度一直很高（接近 1，像边缘图那样），它就没有通过：解释反映的是照片，而不是\n"
          "  模型。SmoothGrad 样本很少时解释噪声很大，所有数值都偏低（见跨种子的参照值）；25 个或更多\n"
          "  样本时结论更清楚。")
    print(f"\n完成。评估结果图在 {save_dir.resolve()}")


if __name__ == "__main__":
    main()
