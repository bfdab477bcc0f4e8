"""教程：视觉 Transformer 的注意力解释，完整流程，完全离线。

我们搭建一个小型 PaddleClas VisionTransformer（一个块，32x32 图像，8x8 的 patch），在合成图像上训练几秒钟：
图像的类别由其中一个 patch 的颜色决定（红色、蓝色，或没有彩色 patch）。然后让五种方法回答是哪个 patch 决定了
类别：Attention Rollout、Generic Attention、TAM、双向解释（BT）以及 patch 词元上的 Grad-CAM。彩色 patch
是我们自己放的，所以知道正确答案，可以统计每种方法找到它的比例（指向游戏）。

    python tutorials/transformers_zh.py               # 2 核 CPU 上约一分钟
    python tutorials/transformers_zh.py --fast        # 更少的图像和步数
"""
import argparse
from pathlib import Path

import numpy as np
import paddle
from paddleclas.ppcls.arch.backbone.model_zoo.vision_transformer import VisionTransformer

from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import get_method
from paddlex_interpret.models import PaddleLayerClassifier

SIZE, PATCH = 32, 8
CELLS = (SIZE // PATCH) ** 2
COLOURS = {0: (220, 30, 30), 1: (30, 30, 220)}     # 类别 0：红色 patch，类别 1：蓝色 patch，类别 2：没有


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="在训练好的小型 ViT 上运行注意力解释方法。")
    parser.add_argument("--save-dir", default="./output/tutorial_transformers", help="结果图的保存文件夹")
    parser.add_argument("--fast", action="store_true", help="更少的测试图像和积分步数")
    return parser.parse_args(argv)


def marker_images(n, rng, graded=False):
    """灰色噪声；类别 0 和 1 在随机位置放一个彩色 patch，类别 2 没有。

    ``graded``（用于训练）：patch 以 U(0.2, 1) 中抽取的不透明度混入噪声，并额外返回软目标：彩色类别的概率随不透明度
    线性升高，于是每个类别的 logit 都随其自身的证据增长（见 docs/zh/transformers.md）。"""
    images = np.repeat(rng.integers(60, 196, (n, SIZE, SIZE, 1)), 3, axis=3).astype(np.float64)
    labels, cells = rng.integers(0, 3, n), rng.integers(0, CELLS, n)
    opacity = rng.uniform(0.2, 1.0, n) if graded else np.ones(n)
    targets = np.zeros((n, 3), np.float32)
    for i in range(n):
        if labels[i] not in COLOURS:
            targets[i, 2] = 1.0
            continue
        r, c = divmod(int(cells[i]), SIZE // PATCH)
        patch = images[i, r * PATCH:(r + 1) * PATCH, c * PATCH:(c + 1) * PATCH]
        patch[:] = (1 - opacity[i]) * patch + opacity[i] * np.array(COLOURS[int(labels[i])], np.float64)
        spread = 1 - 0.9 * opacity[i]
        targets[i] = spread / 3
        targets[i, labels[i]] += 1 - spread
    images = images.round().astype(np.uint8)
    return (images, labels, cells, targets) if graded else (images, labels, cells)


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    steps = 4 if args.fast else 20
    n_test = 30 if args.fast else 90

    # -- 1. 一个 PaddleClas ViT，训练几秒钟 -------------------------------------------------------
    paddle.seed(0)
    rng = np.random.default_rng(0)
    net = VisionTransformer(img_size=SIZE, patch_size=PATCH, class_num=3, embed_dim=32, depth=1, num_heads=2,
                            mlp_ratio=2, qkv_bias=True)
    model = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=SIZE),
                                  labels=["红色 patch", "蓝色 patch", "无 patch"])
    optimizer = paddle.optimizer.Adam(learning_rate=2e-3, parameters=net.parameters())
    net.train()
    for _ in range(100):
        x, _, _, q = marker_images(64, rng, graded=True)
        loss = paddle.nn.functional.cross_entropy(net(paddle.to_tensor(model.preprocess(x))), paddle.to_tensor(q),
                                                  soft_label=True)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    net.eval()
    images, labels, cells = marker_images(n_test, np.random.default_rng(1))
    accuracy = float((model.predict_proba(images).argmax(axis=1) == labels).mean())
    print(f"训练完成：损失 {float(loss):.3f}，在 {n_test} 张新图像上的准确率 {accuracy:.2f}")

    # -- 2. 一张图像，每种方法，各自的结果图 -----------------------------------------------------------
    # 自由函数直接使用原模型：patch 网格（4x4）和类别词元都从网络中读取，网络本身不做任何改动。
    first = int(np.flatnonzero(labels < 2)[0])
    image = images[first]
    print(f"图像 {first}：类别 {labels[first]}，彩色 patch 位于格子 {cells[first]}")
    runs = [(interpret.rollout, {}), (interpret.generic_attention, {}), (interpret.tam, {"steps": steps}),
            (interpret.bidirectional, {"steps": steps}), (interpret.vit_gradcam, {})]
    for function, params in runs:
        exp = function(image, model, save_dir=save_dir, **params)
        token_map = exp.extras["token_map"]
        top = int(np.argmax(token_map))
        print(f"[{exp.method}] {exp.figure_path}：最强的 patch = 格子 {top} "
              f"（{'正确' if top == cells[first] else '错误'}）")

    # -- 3. 在多张图像上的指向游戏 ---------------------------------------------------------------------
    # 引擎类接受一批图像；token_maps() 给出 patch 网格上的图。
    keep = labels < 2
    methods = [("rollout", {}), ("generic_attention", {}), ("tam", {"steps": steps}),
               ("bidirectional", {"steps": steps}), ("bidirectional", {"steps": steps, "mode": "token"}),
               ("vit_gradcam", {})]
    print(f"\n在 {int(keep.sum())} 张图像上的指向游戏（随机水平 {1 / CELLS:.2f}）：")
    for name, params in methods:
        maps, _ = get_method(name).load()(model, **params).token_maps(images[keep], labels[keep])
        hits = maps.reshape(len(maps), -1).argmax(axis=1) == cells[keep]
        per_class = [float(hits[labels[keep] == c].mean()) for c in COLOURS]
        label = name + (f"（{params['mode']}）" if "mode" in params else "")
        print(f"  {label:<22} {hits.mean():.2f}   红色 {per_class[0]:.2f}  蓝色 {per_class[1]:.2f}")
    print("Rollout 不需要梯度。若用硬标签和不透明的 patch 训练，基于梯度加权的方法可能漏掉一个类别："
          "见 docs/zh/transformers.md。")


if __name__ == "__main__":
    main()
