"""Per-method time per image on the demo model, and peak memory against chunk size, in one run.

    python benchmarks/attribution_methods.py [--methods smoothgrad,intgrad,...] [--chunks 1,5,25,50]

Part 1 times each method once on the demo photo 'chelsea' (EfficientNet-Lite0, 224x224), next to
one bare forward pass, and prints time / forward so figures compare across machines.
Part 2 runs SmoothGrad (n_samples=50) in a fresh process per batch_size and prints the peak
resident memory of each: memory grows with the chunk, not with n_samples.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

DEFAULT_METHODS = "lime,smoothgrad,intgrad,gradshap,occlusion,gradcam,scorecam,lrp"

# Settings per method: InterpretDL's defaults, except where noted.
SETTINGS = {
    "lime": {"num_samples": 1000, "progress": False},
    "smoothgrad": {"n_samples": 50, "random_state": 0},
    "intgrad": {"steps": 50, "random_state": 0},
    "gradshap": {"n_samples": 5, "random_state": 0},
    "occlusion": {"sliding_window_shapes": (3, 32, 32), "strides": 16, "perturbations_per_eval": 25,
                  "progress": False},
    "gradcam": {},
    "scorecam": {"target_layer": "_blocks.7", "progress": False},  # 80 channels; the default _bn1 has 1280
    "lrp": {},
}

_MEMORY_PROBE = """
import json, resource, sys
from paddlex_interpret import demo
from paddlex_interpret.engine.gradients import SmoothGrad
model = demo.load_model()
image = model.image_as_explained(demo.image_paths()[0])
SmoothGrad(model, n_samples=50, batch_size=int(sys.argv[1]), random_state=0).explain(image)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def time_methods(names):
    import paddle

    from paddlex_interpret import demo
    from paddlex_interpret.engine import get_method

    model = demo.load_model()
    image = model.image_as_explained(demo.image_paths()[0])
    x = paddle.to_tensor(model.preprocess(image[None]))
    with paddle.no_grad(), model.eval_context():
        model.forward(x)
        start = time.perf_counter()
        for _ in range(5):
            model.forward(x).numpy()
        forward = (time.perf_counter() - start) / 5
    print(f"one forward pass (batch 1): {forward * 1000:.0f} ms")
    print(f"{'method':<11} {'seconds':>8} {'x forward':>10}  settings")
    for name in names:
        cls = get_method(name).load()
        start = time.perf_counter()
        cls(model, **SETTINGS.get(name, {})).explain(image, None)
        took = time.perf_counter() - start
        print(f"{name:<11} {took:8.2f} {took / forward:10.0f}  {SETTINGS.get(name, {})}")


def memory_by_chunk(chunks):
    print("\nSmoothGrad n_samples=50: peak resident memory of a fresh process by batch_size")
    for chunk in chunks:
        out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(chunk)], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"  batch_size={chunk}: failed: {out.stderr.strip().splitlines()[-1]}")
            continue
        peak = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        print(f"  batch_size={chunk:>3}: {peak:7.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--chunks", default="1,5,25,50")
    args = parser.parse_args()
    time_methods([m for m in args.methods.split(",") if m])
    memory_by_chunk([int(c) for c in args.chunks.split(",") if c])


if __name__ == "__main__":
    main()
