"""The same 40-image LIME job on every batch backend: images per second and speed-up.

    python benchmarks/batch_scaling.py [--num-samples 100] [--workers 2] [--backends serial,processes,ray]
                                       [--images 40] [--model demo] [--out DIR]

The images are real photos (scikit-image's chelsea, coffee, astronaut, rocket, motorcycle,
retina, hubble and scikit-learn's china and flower), each as a whole and as crops / a mirror
image, 40 in all, written as JPEG files. The model is the demo's ImageNet EfficientNet-Lite0
(``--model`` takes a PaddleX model directory instead). Each backend explains the same folder into
its own output folder with the same seed; the script checks that the explanations are identical
and prints, per backend:

* wall time of the whole call (workers starting and loading the model included) and images/s;
* steady images/s (between the first and the last finished item, i.e. without start-up);
* the speed-up over ``serial``, and when the first item finished (start-up + one explanation);
* the cost of one explanation: the mean time a worker spent on an item (LIME forwards,
  segmentation, the figure). A cluster of N such workers finishes about N / cost images per second
  once started; this is the number to scale from.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_photos(folder: Path, count: int) -> list:
    import skimage.data
    from PIL import Image, ImageOps
    from sklearn.datasets import load_sample_images

    source = Path(skimage.data.__file__).parent
    arrays = [np.asarray(Image.open(source / n).convert("RGB")) for n in
              ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg",
               "hubble_deep_field.jpg")]
    arrays += list(load_sample_images().images)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for variant in range(5):
        for i, array in enumerate(arrays):
            im = Image.fromarray(array)
            w, h = im.size
            if variant == 1:
                im = ImageOps.mirror(im)
            elif variant >= 2:
                f = (0.8, 0.65, 0.5)[variant - 2]
                cw, ch = int(w * f), int(h * f)
                left, top = (w - cw) * (i % 3) // 2, (h - ch) * ((i + variant) % 3) // 2
                im = im.crop((left, top, left + cw, top + ch))
            im.thumbnail((320, 320))
            path = folder / f"photo{i}_v{variant}.jpg"
            im.save(path, quality=92)
            paths.append(path)
            if len(paths) == count:
                return paths
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="serial,processes,ray")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--out", default=None, help="output folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from paddlex_interpret import interpret
    from paddlex_interpret.engine import load_explanation

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="batch_scaling_"))
    photos = out / "photos"
    make_photos(photos, args.images)
    if args.model == "demo":
        from paddlex_interpret import demo

        demo.load_model()  # convert and cache the weights once, outside the timings
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.images} photos, LIME num_samples={args.num_samples}, model {args.model}, {cpus} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    rows, reference = [], None
    for backend in args.backends.split(","):
        stamps = []
        workers = 1 if backend == "serial" else args.workers
        start = time.perf_counter()
        result = interpret.explain_folder(photos, args.model, method="lime", save_dir=out / backend, backend=backend,
                                          workers=workers, seed=0, num_samples=args.num_samples, batch_size=50,
                                          progress=True, callback=lambda r: stamps.append(time.perf_counter()))
        wall = time.perf_counter() - start
        assert result.failed == 0, result.failures
        exps = {r["key"]: load_explanation(out / backend / r["outputs"]["explanation"]["path"]) for r in result.records}
        if reference is None:
            reference = exps
        same = all(np.array_equal(exps[k].segments, reference[k].segments)
                   and np.allclose(exps[k].weights_of(), reference[k].weights_of(), rtol=1e-6, atol=1e-9)
                   for k in reference)
        cost = float(np.mean([r["seconds"] for r in result.records]))
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
        rows.append((backend, workers, wall, len(stamps) / wall, steady, cost, same, stamps[0] - start))
    base = rows[0][2]
    print(f"\n{'backend':<10} {'workers':>7} {'wall s':>8} {'img/s':>7} {'steady img/s':>13} {'speed-up':>9} "
          f"{'s/explanation':>14} {'first result s':>15} {'same as ' + rows[0][0]:>15}")
    for backend, workers, wall, rate, steady, cost, same, first in rows:
        print(f"{backend:<10} {workers:>7} {wall:>8.1f} {rate:>7.2f} {steady:>13.2f} {base / wall:>9.2f} "
              f"{cost:>14.2f} {first:>15.1f} {str(same):>15}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
