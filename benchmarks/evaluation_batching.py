"""What batching buys the evaluation metrics: batch_size=1 against batch_size=50, in one run.

    python benchmarks/evaluation_batching.py [--batch-size 50] [--steps 20] [--size 32] [--stride 24]
                                             [--repeats 2] [--image PATH]

On the demo model (ImageNet EfficientNet-Lite0, 224x224) and one photo (default: the demo's
'chelsea'), a Grad-CAM explanation is scored by
  1. deletion + insertion (``DeletionInsertion``, mode 'both', ``steps`` steps: the two curves
     share their end images, so 2 * steps distinct images);
  2. infidelity with one square size (``Infidelity(sizes=(size,), stride=stride)``: one image per
     square plus the unperturbed one; a fresh metric per run, so its response cache never helps);
each with batch_size=1 and with the given batch size. It prints the scores of both runs (they must
agree: batching only groups the same images into fewer model calls), the images and model calls
counted at ``predict_proba``, the throughput in model images per second (best of ``repeats``
runs) and the ratio batched / unbatched throughput.
"""
from __future__ import annotations

import argparse
import time

import paddle

from paddlex_interpret import demo, interpret
from paddlex_interpret.evaluate import DeletionInsertion, Infidelity


class CountingCalls:
    """Count images and calls through ``classifier.predict_proba`` (an instance attribute override)."""

    def __init__(self, classifier):
        self.classifier, self.original = classifier, classifier.predict_proba
        self.images = self.calls = 0
        classifier.predict_proba = self

    def __call__(self, images, *args, **kwargs):
        self.images += len(images)
        self.calls += 1
        return self.original(images, *args, **kwargs)

    def reset(self):
        self.images = self.calls = 0


def timed(make_metric, explanation, model, counter, repeats):
    """(best seconds, result, images, calls) of ``make_metric().evaluate`` over ``repeats`` runs."""
    best, result = float("inf"), None
    for _ in range(repeats):
        metric = make_metric()
        counter.reset()
        start = time.perf_counter()
        result = metric.evaluate(explanation, model)
        best = min(best, time.perf_counter() - start)
    return best, result, counter.images, counter.calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20, help="deletion/insertion steps")
    parser.add_argument("--size", type=int, default=32, help="infidelity square side in pixels")
    parser.add_argument("--stride", type=int, default=24, help="infidelity grid step in pixels")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting; the fastest counts")
    parser.add_argument("--image", default=None, help="default: the demo's chelsea photo")
    args = parser.parse_args()

    model = demo.load_model()
    path = args.image or demo.image_paths()[0]
    explanation = interpret.gradcam(path, model, save_dir=None)
    image = explanation.image
    for b in (1, args.batch_size):  # warm-up at both batch shapes: kernels, allocator
        model.predict_proba(image[None].repeat(b, axis=0), batch_size=b)
    counter = CountingCalls(model)

    metrics = {
        f"deletion+insertion (steps={args.steps})": lambda b: DeletionInsertion(steps=args.steps, batch_size=b),
        f"infidelity (size {args.size}, stride {args.stride})": lambda b: Infidelity(
            sizes=(args.size,), stride=args.stride, batch_size=b),
    }
    threads = paddle.get_flags(["FLAGS_paddle_num_threads"])["FLAGS_paddle_num_threads"]
    print(f"device: {paddle.get_device()}, paddle {paddle.__version__}, threads: {threads}")
    print(f"photo: {path}, Grad-CAM explanation of '{explanation.label_name}' "
          f"(p = {explanation.probability:.3f}), best of {args.repeats} run(s)\n")
    for title, make in metrics.items():
        rows = {}
        for b in (1, args.batch_size):
            seconds, result, images, calls = timed(lambda: make(b), explanation, model, counter, args.repeats)
            rows[b] = (seconds, result, images, calls)
        print(title)
        for b, (seconds, result, images, calls) in rows.items():
            extra = ""
            if "deletion_score" in result.details:
                extra = (f"  deletion {result.details['deletion_score']:.6f}"
                         f"  insertion {result.details['insertion_score']:.6f}")
            print(f"  batch_size={b:<3} {images:4d} images in {calls:4d} calls  {seconds:7.2f} s  "
                  f"{images / seconds:6.2f} images/s  score {result.score:.6f}{extra}")
        (t1, r1, n1, _), (tb, rb, nb, _) = rows[1], rows[args.batch_size]
        print(f"  same images: {n1 == nb}; score difference {abs(r1.score - rb.score):.1e}; "
              f"throughput ratio batched / unbatched = {(nb / tb) / (n1 / t1):.2f}\n")


if __name__ == "__main__":
    main()
