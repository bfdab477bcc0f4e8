"""LIME at the speed of its forwards, and LIME that knows when it has enough samples: one run.

    python benchmarks/lime_speed.py [--num-samples 1000] [--seeds 10] [--reference-samples 10000]
                                    [--photos chelsea,coffee] [--skip-reference-lime]

On the demo model (ImageNet EfficientNet-Lite0, through the Paddle Inference runner) it prints:

1. the whole ``interpret.lime`` call (no figure) against the bare forwards it needs (the same
   number of already-normalised batches through the same runner): the engine's overhead;
2. the same call against marcotcr/lime (the ``lime`` package, not a dependency of this project:
   ``pip install lime``) driven by the same fast predictor, same samples and segmentation;
3. ``num_samples='auto'``: the samples it used and how often its top-5 superpixels agree with those
   of a ``--reference-samples`` run (seed 1000), over ``--seeds`` seeds per photo, next to fixed 1000
   and 3000 (agreement = size of the intersection of the two top-5 sets / 5, averaged). One 3000-sample
   run per seed serves all three: fixed 1000 and 'auto' are fits on its first samples (what the engine
   does with the same seed; one real 'auto' call per photo is checked against it).

All numbers come from this one run on this machine; the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from paddlex_interpret import demo, interpret
from paddlex_interpret.data import segment
from paddlex_interpret.engine.lime.lime_image import LimeImage
from paddlex_interpret.engine.lime.local_model import (LocalFit, bootstrap_weights, cosine_distance_to_original,
                                                       exponential_kernel, ridge_weights, top_k_stability)
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
    parser.add_argument("--skip-speed", action="store_true", help="only the 'auto' comparison (3.)")
    parser.add_argument("--targets", default="0.8,0.85,0.9,0.95",
                        help="stability targets whose stopping points 3. also reports (same samples)")
    args = parser.parse_args()

    model = demo.load_model()
    paths = dict(zip(("chelsea", "coffee"), demo.image_paths()))
    chosen = [Path(paths[p]) for p in args.photos.split(",")]
    image = model.image_as_explained(chosen[0])
    model.predict_proba(np.repeat(image[None], 2, axis=0), batch_size=2)  # export the runner once

    if not args.skip_speed:
        speed(args, model, chosen, image)
    if args.seeds >= 1:
        agreement(args, model, chosen)


def speed(args, model, chosen, image):
    print(f"1. overhead at {args.num_samples} samples, batch {args.batch_size} ({chosen[0].name}):")
    lime_call(model, chosen[0], 2 * args.batch_size, args.batch_size, 0)  # warm caches
    t_lime, _ = lime_call(model, chosen[0], args.num_samples, args.batch_size, 0)
    t_bare = bare_forwards(model, image, args.num_samples, args.batch_size)
    print(f"   interpret.lime {t_lime:.2f} s, bare forwards {t_bare:.2f} s, ratio {t_lime / t_bare:.2f} (goal <= 1.10)")

    if not args.skip_reference_lime:
        t_ref = reference_lime(model, image, args.num_samples, args.batch_size, 0)
        print(f"2. marcotcr/lime with the same predictor {t_ref:.2f} s; ours / theirs {t_lime / t_ref:.2f} "
              "(goal <= 0.80)")



def agreement(args, model, chosen):
    targets = [float(t) for t in args.targets.split(",")]
    sweep = {t: ([], []) for t in targets}
    print(f"3. top-5 agreement with a {args.reference_samples}-sample run (seed 1000), {args.seeds} seeds per photo:")
    rows = {"fixed 1000": [], "fixed 3000": [], "auto": []}
    used = []
    for path in chosen:
        _, ref = lime_call(model, path, args.reference_samples, args.batch_size, 1000)
        for seed in range(args.seeds):
            exp, masks, probs = recorded_lime(model, path, 3000, args.batch_size, seed)
            primary = exp.target
            # fixed 1000 = the first 1000 samples of the same seed's run (tests/test_lime_auto.py checks that
            # 'auto' stopping at n gives num_samples=n); auto = the engine's stopping rule on those prefixes
            first = prefix_weights(exp, masks, probs[:, primary], 1000)
            stop, _ = auto_stop(exp, masks, probs[:, primary], seed)
            auto_weights = prefix_weights(exp, masks, probs[:, primary], stop)
            if seed == 0:  # the simulation is the real thing: one real 'auto' call per photo agrees
                _, real = lime_call(model, path, "auto", args.batch_size, seed)
                assert real.params["samples_used"] == stop, (real.params["samples_used"], stop)
                np.testing.assert_allclose(real.weights_of(), auto_weights, rtol=1e-6, atol=1e-9)
            reference = top5(ref)
            rows["fixed 1000"].append(len(top_set(first) & reference) / 5)
            rows["fixed 3000"].append(len(top5(exp) & reference) / 5)
            rows["auto"].append(len(top_set(auto_weights) & reference) / 5)
            used.append(stop)
            for t in targets:
                n, _ = auto_stop(exp, masks, probs[:, primary], seed, target=t)
                sweep[t][0].append(n)
                sweep[t][1].append(len(top_set(prefix_weights(exp, masks, probs[:, primary], n)) & reference) / 5)
        print(f"   {path.stem}: auto used {used[-args.seeds:]}")
    for label, values in rows.items():
        extra = f", samples used {np.mean(used):.0f} on average (min {min(used)}, max {max(used)})" \
            if label == "auto" else ""
        print(f"   {label:<10} agreement {np.mean(values):.2f}{extra}")
    default = LimeImage.DEFAULT_STABILITY_TARGET
    print(f"   auto with other stability targets (default {default}): target, samples used on average, agreement")
    for t, (n, a) in sweep.items():
        print(f"   {t:.2f} {np.mean(n):6.0f} {np.mean(a):.2f}")


def top_set(weights):
    return set(np.argsort(-weights, kind="stable")[:5].tolist())


class _RecordingLime(LimeImage):
    """The engine's LIME, keeping the masks and probabilities it sends through the model."""

    def _input_space_predictor(self, image, segments, fill):
        predict = super()._input_space_predictor(image, segments, fill)
        self.seen = []

        def recording(masks):
            out = predict(masks)
            self.seen.append((masks.copy(), np.asarray(out, dtype=np.float64)))
            return out

        return recording


def recorded_lime(model, path, n, batch_size, seed):
    explainer = _RecordingLime(model, num_samples=n, batch_size=batch_size, random_state=seed, progress=False)
    exp = explainer.explain(model.image_as_explained(path))
    masks = np.concatenate([m for m, _ in explainer.seen])
    probs = np.concatenate([p for _, p in explainer.seen])
    return exp, masks, probs


def prefix_weights(exp, masks, y, n):
    """The weights of ``num_samples=n`` with the same seed: the fit on the first n samples."""
    kernel = exponential_kernel(cosine_distance_to_original(masks[:n]), exp.params["kernel_width"])
    return ridge_weights(masks[:n].astype(np.float64), y[:n], kernel)


def auto_stop(exp, masks, y, seed, step=250, target=None, k=5):
    """Where num_samples='auto' (defaults) stops on these samples: ``(samples, stability)``."""
    target = LimeImage.DEFAULT_STABILITY_TARGET if target is None else target
    stability = 0.0
    for n in range(step, len(masks) + 1, step):
        kernel = exponential_kernel(cosine_distance_to_original(masks[:n]), exp.params["kernel_width"])
        X = masks[:n].astype(np.float64)
        weights = ridge_weights(X, y[:n], kernel)
        fit = lambda X_, y_, w_: LocalFit(ridge_weights(X_, y_, w_), np.nan, np.nan, np.nan)  # noqa: E731
        stability = top_k_stability(weights, bootstrap_weights(X, y[:n], kernel, fit, seed=seed), k)
        if stability >= target:
            return n, stability
    return len(masks), stability

if __name__ == "__main__":
    main()
