"""LIME's overhead over the forward passes it cannot avoid, measured in one run.

    python benchmarks/lime_overhead.py [--num-samples 1000] [--batch-size 50] [--image PATH]

Times, on the demo model (ImageNet EfficientNet-Lite0) and one demo photo:
  1. the whole of ``LimeImage.explain`` (segmentation, masks, perturbed images, forwards, fit);
  2. the same number of bare network forwards at the same batch size, on inputs that are already
     normalised tensors (the floor no LIME implementation can go under);
  3. LIME's own parts alone: segmentation, building the perturbed batches, normalisation, the fit.
Prints the overhead ratio (LIME - forwards) / forwards. Target: <= 10% at 1000 samples.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import paddle

from paddlex_interpret import demo
from paddlex_interpret.engine import LimeImage
from paddlex_interpret.data import segment
from paddlex_interpret.data import segmentation as segmentation_module
from paddlex_interpret.engine.lime import fit_local_model
from paddlex_interpret.engine.lime.local_model import cosine_distance_to_original, exponential_kernel
from paddlex_interpret.models import eval_mode


def bare_forwards(model, image, num_samples, batch_size):
    x_full = paddle.to_tensor(model.preprocess(np.repeat(image[None], batch_size, axis=0)))
    sizes = [min(batch_size, num_samples - s) for s in range(0, num_samples, batch_size)]
    start = time.perf_counter()
    with paddle.no_grad(), eval_mode(model.network):
        for n in sizes:
            model.network(x_full[:n]).numpy()
    return time.perf_counter() - start


def lime_parts(model, image, num_samples, batch_size, seed):
    """Time LIME's non-forward work with the same code paths the engine uses."""
    engine = LimeImage(model, num_samples=num_samples, batch_size=batch_size, random_state=seed, progress=False)
    segmentation_module._CACHE.clear()
    t0 = time.perf_counter()
    segments = segment(image, "quickshift")
    t_seg = time.perf_counter() - t0
    masks = np.random.default_rng(seed).integers(0, 2, size=(num_samples, segments.max() + 1), dtype=np.uint8)
    masks[0] = 1
    fill = engine._fill_image(image, segments)
    t0 = time.perf_counter()
    for start in range(0, num_samples, batch_size):
        model.preprocess(engine._perturbed(image, segments, masks[start:start + batch_size], fill))
    t_batches = time.perf_counter() - t0
    y = np.random.default_rng(seed).random(num_samples)
    t0 = time.perf_counter()
    kernel = exponential_kernel(cosine_distance_to_original(masks), 0.25)
    fit_local_model(masks.astype(np.float64), y, kernel)
    t_fit = time.perf_counter() - t0
    return t_seg, t_batches, t_fit


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--image", default=None, help="default: the demo's chelsea photo")
    args = parser.parse_args()

    model = demo.load_model()
    model.runner = "dygraph"  # both sides in dygraph; benchmarks/fast_runner.py compares the runners
    image = model.image_as_explained(args.image or demo.image_paths()[0])
    n, b = args.num_samples, args.batch_size
    bare_forwards(model, image, 2 * b, b)  # warm-up: kernels, allocator

    segmentation_module._CACHE.clear()
    t0 = time.perf_counter()
    LimeImage(model, num_samples=n, batch_size=b, random_state=0, progress=False).explain(image)
    t_lime = time.perf_counter() - t0
    t_fwd = bare_forwards(model, image, n, b)
    t_seg, t_batches, t_fit = lime_parts(model, image, n, b, 0)

    print(f"device: {paddle.get_device()}, paddle {paddle.__version__}, threads: "
          f"{paddle.get_flags(['FLAGS_paddle_num_threads'])['FLAGS_paddle_num_threads']}")
    print(f"num_samples={n}, batch_size={b}, image {image.shape[1]}x{image.shape[0]}")
    print(f"LIME total            {t_lime:8.2f} s")
    print(f"bare forwards         {t_fwd:8.2f} s   ({n / t_fwd:.1f} img/s)")
    print(f"  segmentation        {t_seg:8.3f} s")
    print(f"  perturb + normalise {t_batches:8.3f} s")
    print(f"  surrogate fit       {t_fit:8.3f} s")
    overhead = (t_lime - t_fwd) / t_fwd
    parts = (t_seg + t_batches + t_fit) / t_fwd
    print(f"overhead ratio (LIME - forwards) / forwards = {overhead:.1%}   (target <= 10%)")
    print(f"LIME's own parts / forwards                 = {parts:.1%}   (the same, measured part by part)")


if __name__ == "__main__":
    main()
