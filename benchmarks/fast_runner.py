"""Dygraph vs. the Paddle Inference (oneDNN) runner for black-box forwards, measured in one run.

    python benchmarks/fast_runner.py [--num-samples 500] [--batch-size 50] [--image PATH]

On the demo model (ImageNet EfficientNet-Lite0) and one demo photo, prints:
  1. the one-off cost of exporting the network and creating the predictor;
  2. throughput of ``predict_proba`` on the same perturbed batch with runner='dygraph' and
     runner='inference', and their ratio;
  3. the time of a whole LIME run with each runner, their ratio, and how far the two LIME weight
     vectors are apart (same seed and samples; only float32 kernel differences remain).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import paddle

from paddlex_interpret import demo
from paddlex_interpret.engine import LimeImage
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.models.inference_runner import InferenceRunner


def throughput(model, images, batch_size, repeats=2):
    model.predict_proba(images[: 2 * batch_size], batch_size=batch_size)  # warm-up (and export)
    start = time.perf_counter()
    for _ in range(repeats):
        model.predict_proba(images, batch_size=batch_size)
    return repeats * len(images) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--image", default=None, help="default: the demo's chelsea photo")
    args = parser.parse_args()

    base = demo.load_model()
    runners = {name: PaddleLayerClassifier(base.network, preprocess=base.preprocess, labels=base.labels, runner=name)
               for name in ("dygraph", "inference")}
    image = base.image_as_explained(args.image or demo.image_paths()[0])
    rng = np.random.default_rng(0)
    images = np.where(rng.random((200, 1, 1, 1)) < 0.5, image[None], 0).astype(np.uint8)

    start = time.perf_counter()
    InferenceRunner.from_layer(base.network, base.preprocess(image[None]))
    t_export = time.perf_counter() - start
    speed = {name: throughput(model, images, args.batch_size) for name, model in runners.items()}
    timings, weights = {}, {}
    for name, model in runners.items():
        start = time.perf_counter()
        explanation = LimeImage(model, num_samples=args.num_samples, batch_size=args.batch_size, random_state=0,
                                progress=False).explain(image)
        timings[name] = time.perf_counter() - start
        weights[name] = explanation.weights[explanation.targets[0]]

    print(f"device: {paddle.get_device()}, paddle {paddle.__version__}, CPUs: {os.cpu_count()}")
    print(f"export + predictor creation        {t_export:7.2f} s (once per model and weights)")
    for name in runners:
        print(f"predict_proba, runner={name:<10} {speed[name]:7.1f} img/s")
    print(f"throughput ratio inference/dygraph {speed['inference'] / speed['dygraph']:7.2f}x")
    for name in runners:
        print(f"LIME ({args.num_samples} samples), runner={name:<10} {timings[name]:7.1f} s")
    print(f"LIME time ratio dygraph/inference  {timings['dygraph'] / timings['inference']:7.2f}x")
    diff = np.abs(weights["dygraph"] - weights["inference"]).max() / np.abs(weights["dygraph"]).max()
    print(f"max |weight difference| / max |weight| = {diff:.2e}")


if __name__ == "__main__":
    main()
