"""LIME at the speed of its forwards, and LIME that knows when it has enough samples: one run.

    python benchmarks/lime_speed.py [--num-samples 1000] [--seeds 10] [--reference-samples 10000]
                                    [--photos chelsea,coffee] [--skip-reference-lime]

On the demo model (ImageNet EfficientNet-Lite0, through the Paddle Inference runner) it prints:

1. the whole ``interpret.lime`` call (no figure) against the bare forwards it needs (the same
   number of already-normalised batches through the same runner): the engine's overhead;
2. the same call against marcotcr/lime (the ``lime`` package, not a dependency of this project:
   ``pip install lime``) driven by the same fast predictor, same samples and segmentation;
3. ``num_samples='auto'``: the samples it used and how often its top-5 superpixels agree with those
   of a ``--reference-samples`` run, over ``--seeds`` seeds per photo, next to fixed 1000 and 3000
   (agreement = size of the intersection of the two top-5 sets / 5, averaged).

All numbers come from this one run on this machine; the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from paddlex_interpret import demo, interpret
from paddlex_interpret.data import segment
from paddlex_interpret.models.base import softmax


def top5(exp):
    return set(np.argsort(-exp.weights_of(), kind="stable")[:5].tolist())


def bare_forwards(model, image, n, batch_size):
    x = model.preprocess(np.repeat(image[None], batch_size, axis=0))
    start = time.perf_counter()
    for _ in range(int(np.ceil(n / batch_size))):
        model.scores_for_inputs(x)
    return time.perf_counter() - start


def lime_call(model, path, n, batch_size, seed):
    start = time.perf_counter()
    exp = interpret.lime(path, model, num_samples=n, batch_size=batch_size, save_dir=None, random_state=seed,
                         progress=False)
    return time.perf_counter() - start, exp


def reference_lime(model, image, n, batch_size, seed):
    """marcotcr/lime with the same predictor and quickshift parameters (black hidden pixels)."""
    from lime import lime_image

    def predict(images):
        return softmax(model.scores_for_inputs(model.preprocess(np.asarray(images, dtype=np.uint8))))

    segments = segment(image, "quickshift", random_state=seed)
    explainer = lime_image.LimeImageExplainer(random_state=seed)
    start = time.perf_counter()
    explainer.explain_instance(image, predict, top_labels=1, hide_color=0, num_samples=n, batch_size=batch_size,
                               segmentation_fn=lambda _: segments)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--reference-samples", type=int, default=10000)
    parser.add_argument("--photos", default="chelsea,coffee")
    parser.add_argument("--skip-reference-lime", action="store_true", help="skip the marcotcr/lime comparison")
    args = parser.parse_args()

    model = demo.load_model()
    paths = dict(zip(("chelsea", "coffee"), demo.image_paths()))
    chosen = [Path(paths[p]) for p in args.photos.split(",")]
    image = model.image_as_explained(chosen[0])
    model.predict_proba(np.repeat(image[None], 2, axis=0), batch_size=2)  # export the runner once

    print(f"1. overhead at {args.num_samples} samples, batch {args.batch_size} ({chosen[0].name}):")
    lime_call(model, chosen[0], 2 * args.batch_size, args.batch_size, 0)  # warm caches
    t_lime, _ = lime_call(model, chosen[0], args.num_samples, args.batch_size, 0)
    t_bare = bare_forwards(model, image, args.num_samples, args.batch_size)
    print(f"   interpret.lime {t_lime:.2f} s, bare forwards {t_bare:.2f} s, ratio {t_lime / t_bare:.2f} (goal <= 1.10)")

    if not args.skip_reference_lime:
        t_ref = reference_lime(model, image, args.num_samples, args.batch_size, 0)
        print(f"2. marcotcr/lime with the same predictor {t_ref:.2f} s; ours / theirs {t_lime / t_ref:.2f} "
              "(goal <= 0.80)")

    if args.seeds < 1:
        return
    print(f"3. top-5 agreement with a {args.reference_samples}-sample run, {args.seeds} seeds per photo:")
    rows = {"fixed 1000": [], "fixed 3000": [], "auto": []}
    used = []
    for path in chosen:
        for seed in range(args.seeds):
            _, ref = lime_call(model, path, args.reference_samples, args.batch_size, 1000 + seed)
            for label, n in (("fixed 1000", 1000), ("fixed 3000", 3000), ("auto", "auto")):
                _, exp = lime_call(model, path, n, args.batch_size, seed)
                rows[label].append(len(top5(exp) & top5(ref)) / 5)
                if n == "auto":
                    used.append(exp.params["samples_used"])
    for label, values in rows.items():
        extra = f", samples used {np.mean(used):.0f} on average (min {min(used)}, max {max(used)})" \
            if label == "auto" else ""
        print(f"   {label:<10} agreement {np.mean(values):.2f}{extra}")


if __name__ == "__main__":
    main()
