"""Tutorial: attention explanations of a vision transformer, end to end and offline.

We build a small PaddleClas VisionTransformer (one block, 32x32 images, 8x8 patches), train it for
a few seconds on synthetic images whose class is the colour of one patch (red, blue, or no coloured
patch), then ask five methods which patch decided: Attention Rollout, Generic Attention, TAM,
Bidirectional (BT) and Grad-CAM on the patch tokens. Since we placed the coloured patch ourselves,
we know the right answer and can count how often each method finds it (the pointing game).

    python tutorials/transformers.py                  # about a minute on a 2-core CPU
    python tutorials/transformers.py --fast           # fewer images and steps
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
COLOURS = {0: (220, 30, 30), 1: (30, 30, 220)}     # class 0: a red patch, class 1: a blue one, class 2: none


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Attention methods on a small trained ViT.")
    parser.add_argument("--save-dir", default="./output/tutorial_transformers", help="folder for the figures")
    parser.add_argument("--fast", action="store_true", help="fewer test images and integration steps")
    return parser.parse_args(argv)


def marker_images(n, rng, graded=False):
    """Gray noise; classes 0 and 1 get one coloured patch at a random cell, class 2 none.

    ``graded`` (for training): the patch is blended into the noise at an opacity drawn from U(0.2, 1),
    and soft targets are returned too: a coloured class's probability rises linearly with the opacity,
    so each class's logit grows with its own evidence (see docs/transformers.md)."""
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

    # -- 1. A PaddleClas ViT, trained for a few seconds --------------------------------------------
    paddle.seed(0)
    rng = np.random.default_rng(0)
    net = VisionTransformer(img_size=SIZE, patch_size=PATCH, class_num=3, embed_dim=32, depth=1, num_heads=2,
                            mlp_ratio=2, qkv_bias=True)
    model = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=SIZE),
                                  labels=["red patch", "blue patch", "no patch"])
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
    print(f"Trained: loss {float(loss):.3f}, accuracy on {n_test} new images {accuracy:.2f}")

    # -- 2. One image, every method, with its figure --------------------------------------------------
    # The free functions take the model as it is: the patch grid (4x4) and the class token are read
    # from the network; nothing in it is changed.
    first = int(np.flatnonzero(labels < 2)[0])
    image = images[first]
    print(f"Image {first}: class {labels[first]}, coloured patch at cell {cells[first]}")
    runs = [(interpret.rollout, {}), (interpret.generic_attention, {}), (interpret.tam, {"steps": steps}),
            (interpret.bidirectional, {"steps": steps}), (interpret.vit_gradcam, {})]
    for function, params in runs:
        exp = function(image, model, save_dir=save_dir, **params)
        token_map = exp.extras["token_map"]
        top = int(np.argmax(token_map))
        print(f"[{exp.method}] {exp.figure_path}: strongest patch = cell {top} "
              f"({'right' if top == cells[first] else 'wrong'})")

    # -- 3. The pointing game over many images ---------------------------------------------------------
    # Engine classes take a batch; token_maps() gives the maps on the patch grid.
    keep = labels < 2
    methods = [("rollout", {}), ("generic_attention", {}), ("tam", {"steps": steps}),
               ("bidirectional", {"steps": steps}), ("bidirectional", {"steps": steps, "mode": "token"}),
               ("vit_gradcam", {})]
    print(f"\nPointing game on {int(keep.sum())} images (chance {1 / CELLS:.2f}):")
    for name, params in methods:
        maps, _ = get_method(name).load()(model, **params).token_maps(images[keep], labels[keep])
        hits = maps.reshape(len(maps), -1).argmax(axis=1) == cells[keep]
        per_class = [float(hits[labels[keep] == c].mean()) for c in COLOURS]
        label = name + (f" ({params['mode']})" if "mode" in params else "")
        print(f"  {label:<22} {hits.mean():.2f}   red {per_class[0]:.2f}  blue {per_class[1]:.2f}")
    print("Rollout needs no gradient. Trained on hard labels with opaque patches, the gradient-weighted "
          "methods can miss one class: see docs/transformers.md.")


if __name__ == "__main__":
    main()
