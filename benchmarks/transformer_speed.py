"""Time per explanation of the attention methods on a ViT-small-sized model (random init, offline).

    python benchmarks/transformer_speed.py [--steps 20] [--repeats 2] [--depth 12]

The network is PaddleClas's ``VisionTransformer`` with ViT-small's shape (224x224, patch 16,
embed 384, 12 blocks, 6 heads; random weights: speed does not depend on them). Prints one bare
forward, then seconds per explanation (best of ``--repeats``) and that time in forwards, per method.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="integrated-gradient steps of tam/bidirectional")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--depth", type=int, default=12)
    args = parser.parse_args(argv)

    import paddle
    from paddleclas.ppcls.arch.backbone.model_zoo.vision_transformer import VisionTransformer

    from paddlex_interpret.data import ImagePreprocess
    from paddlex_interpret.engine import get_method
    from paddlex_interpret.models import PaddleLayerClassifier

    paddle.seed(0)
    net = VisionTransformer(img_size=224, patch_size=16, class_num=1000, embed_dim=384, depth=args.depth,
                            num_heads=6, mlp_ratio=4, qkv_bias=True)
    net.eval()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=224), runner="dygraph")
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    x = paddle.to_tensor(clf.preprocess(image[None]))
    with paddle.no_grad():
        net(x)
        start = time.perf_counter()
        net(x)
        forward = time.perf_counter() - start
    print(f"ViT-small shape (depth {args.depth}), one forward: {forward * 1000:.0f} ms")
    runs = [("rollout", {}), ("generic_attention", {}), ("tam", {"steps": args.steps}),
            ("bidirectional", {"steps": args.steps}), ("bidirectional", {"steps": args.steps, "mode": "token"})]
    print(f"{'method':<28} {'s / explanation':>16} {'forwards':>9}")
    for name, params in runs:
        method = get_method(name).load()(clf, **params)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            method.explain(image, 0)
            best = min(best, time.perf_counter() - start)
        label = name + (f" ({params['mode']})" if "mode" in params else "")
        print(f"{label:<28} {best:>16.2f} {best / forward:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
