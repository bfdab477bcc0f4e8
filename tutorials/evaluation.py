"""Tutorial: how far can an explanation be trusted? Scoring four methods on three real photos.

The demo model (EfficientNet-Lite0 with its real ImageNet weights) explains its top class on
three photos - scikit-image's 'chelsea' (a cat), 'coffee' (an espresso) and 'rocket' - with LIME,
Grad-CAM, SmoothGrad and Integrated Gradients. ``interpret.evaluate`` then scores every
explanation by what happens to the model when the pixels it ranks first are removed or put back
(deletion, insertion, MoRF, LeRF), by how well it predicts the effect of hiding squares
(infidelity), and - where a box around the object is given - by whether it points at it
(pointing game). The script prints one table per photo, with two random maps as references,
ranks the four methods and ends with a sanity check: does the explanation change when the
model's weights are destroyed?

    python tutorials/evaluation.py           # about nine minutes on a 2-core CPU
    python tutorials/evaluation.py --fast    # tiny settings, one photo (under a minute), rough numbers
"""
import argparse
import time
import unicodedata
from pathlib import Path

import numpy as np
import skimage.data

from paddlex_interpret import demo, evaluate, interpret
from paddlex_interpret.engine import PixelExplanation
from paddlex_interpret.engine.gradients import SmoothGrad
from paddlex_interpret.evaluate.sanity import map_similarity

METHODS = ("lime", "gradcam", "smoothgrad", "intgrad")
CURVES = ("deletion", "insertion", "morf", "lerf")
# Hand-drawn boxes around the object, in the pixels of the image as explained (224x224 after
# resize and centre crop): (x1, y1, x2, y2), x = column, y = row, the far corner excluded.
# 'chelsea' has none: the cat fills the whole frame, so a box would be the whole image.
BOXES = {"coffee": (30, 0, 182, 140),    # the cup, without saucer and spoon
         "rocket": (98, 56, 126, 224)}   # the rocket in the middle, not the two towers


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Evaluate explanations of the demo model on real photos.")
    parser.add_argument("--save-dir", default="./output/tutorial_evaluation", help="folder for the figures")
    parser.add_argument("--fast", action="store_true",
                        help="tiny settings and one photo: every step runs, the numbers are rough")
    return parser.parse_args(argv)


def photo_paths(fast):
    folder = Path(skimage.data.__file__).parent
    chelsea, coffee = demo.image_paths()
    rocket = folder / "rocket.jpg"
    # --fast keeps the rocket only: it has a box, so the pointing game runs too
    return [rocket] if fast else [chelsea, coffee, rocket]


def width(text):
    """Width in a terminal: wide (e.g. Chinese) characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def print_table(rows, columns, better):
    """rows: [(method, {column: value})]; a value is a float, a string or missing."""
    cells = [["method"] + [c for c, _ in columns]]
    for method, values in rows:
        cells.append([method] + [fmt.format(values[c]) if c in values else "-" for c, fmt in columns])
    cells.append(["(better)"] + [better[c] for c, _ in columns])
    widths = [max(width(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        print("  " + "  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths)).rstrip())


class EdgeMap:
    """A 'method' that never looks at the model: the image's edge strength (Sobel filter).

    Used in the sanity check as a method that must fail. It follows the protocol the check
    needs: built from a classifier, ``explain(image, target)`` returns an explanation.
    """

    def __init__(self, classifier):
        self.classifier = classifier

    def explain(self, image, target):
        from skimage.filters import sobel

        edges = sobel(image.astype(np.float64).mean(axis=2) / 255.0)
        return PixelExplanation(method="edges", image=image, attribution=edges, target=int(target),
                                label_name=self.classifier.label_name(int(target)), probability=float("nan"))


def random_map(image, target, label, probability, block, seed=0):
    """A reference: a map of random values, one per pixel (block=1) or per block x block square."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    values = rng.random((-(-h // block), -(-w // block)))
    attribution = np.kron(values, np.ones((block, block)))[:h, :w]
    return PixelExplanation(method=f"random_{block}px", image=image, attribution=attribution, target=target,
                            label_name=label, probability=probability)


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    fast = args.fast
    lime_samples = 30 if fast else 300       # LIME: perturbed images, one forward each (300: a first look)
    sg_samples = 3 if fast else 25           # SmoothGrad: noisy copies (forward + backward each)
    ig_steps = 8 if fast else 50             # Integrated Gradients: points on the path
    curve_steps = 5 if fast else 20          # deletion/insertion/MoRF/LeRF: steps + 1 images per curve
    # infidelity: square side(s) in pixels and the grid step; one forward per square
    infidelity = {"sizes": (64,), "stride": 80} if fast else {"sizes": (56,), "stride": 28}

    # -- 1. The model and the photos -----------------------------------------------------------
    model = demo.load_model()
    photos = photo_paths(fast)
    print(f"{len(photos)} photo(s): {', '.join(Path(p).stem for p in photos)}; "
          f"methods: {', '.join(METHODS)}\n")

    # -- 2. The metrics ----------------------------------------------------------------------
    # deletion  : remove the pixels the map ranks first (they become grey 127, in `steps` steps:
    #             equal pixel counts for pixel maps, groups of superpixels for LIME) and follow the
    #             class probability; area under the curve, LOWER is better.
    # insertion : start from the all-grey image and put the top pixels back first; area,
    #             HIGHER is better.
    # morf/lerf : most / least relevant first removal. MoRF is the deletion curve and LeRF reads
    #             the insertion curve from the other end, so with the same fill and steps their
    #             areas equal deletion's and insertion's (checked below); the literature reports
    #             them under these names.
    # infidelity: hide squares, measure the probability drop, and compare it with the map summed
    #             over each square (optimally scaled); mean squared error, LOWER is better.
    #             'relative' divides by the mean squared drop: 0 = every drop predicted,
    #             1 = no better than an all-zero map.
    # point_game: precision/recall of the pixels >= 25% of the map's maximum against the box;
    #             the score is their F1 (HIGHER is better); 'hit': the maximum is in the box.
    # Gradient maps are ranked by |attribution| summed over the colour channels; LIME by the
    # signed superpixel weight (evidence for the class first).
    metric_params = {name: {"steps": curve_steps} for name in CURVES}
    metric_params["infidelity"] = dict(infidelity)
    better = {"deletion": "lower", "insertion": "higher", "morf": "lower", "lerf": "higher",
              "infidelity": "lower", "relative": "lower", "point_game": "higher", "hit": "yes"}
    columns = [("deletion", "{:.4f}"), ("insertion", "{:.4f}"), ("morf", "{:.4f}"), ("lerf", "{:.4f}"),
               ("infidelity", "{:.5f}"), ("relative", "{:.3f}"), ("point_game", "{:.3f}"), ("hit", "{}")]

    # -- 3. Explain and score every photo ---------------------------------------------------
    scores = {m: {"deletion": [], "insertion": []} for m in METHODS + ("random_1px", "random_32px")}
    largest_gap = 0.0
    for path in photos:
        name = Path(path).stem
        image = model.image_as_explained(path)
        index, label, prob = model.top_classes(image, k=1)[0]
        print(f"== {name}: the model predicts '{label}' (class {index}), p = {prob:.3f} ==")

        # Each method explains the top class; save_dir=None: no explanation figure, the
        # evaluation figure below shows the map over the photo next to its curves.
        explanations, seconds = {}, {}
        for method in METHODS:
            t0 = time.perf_counter()
            if method == "lime":
                exp = interpret.lime(path, model, num_samples=lime_samples, save_dir=None, random_state=0,
                                     progress=False)
            elif method == "gradcam":
                exp = interpret.gradcam(path, model, save_dir=None)
            elif method == "smoothgrad":
                exp = interpret.smoothgrad(path, model, n_samples=sg_samples, save_dir=None, random_state=0)
            else:
                exp = interpret.intgrad(path, model, steps=ig_steps, save_dir=None)
            explanations[method], seconds[method] = exp, time.perf_counter() - t0
        print("  explained in " + ", ".join(f"{m} {s:.1f} s" for m, s in seconds.items()))

        metrics = ["deletion", "insertion", "morf", "lerf", "infidelity"]
        inputs = {}
        if name in BOXES:               # the pointing game needs the box: evaluate(..., bbox=...)
            metrics.append("point_game")
            inputs["bbox"] = BOXES[name]
        rows, figures = [], []
        for method, exp in explanations.items():
            # save_dir: writes <name>_<method>_evaluation.png (the map over the photo, then one
            # panel per curve); name= is the image name used in the file name.
            report = interpret.evaluate(exp, model, metrics=metrics, metric_params=metric_params,
                                        save_dir=save_dir, name=name, batch_size=50, **inputs)
            values = report.scores()
            values["relative"] = report["infidelity"].details["relative"]
            if "point_game" in report:
                values["hit"] = "yes" if report["point_game"].details["hit"] else "no"
            rows.append((method, values))
            figures.append(Path(report.figure_path).name)
            for curve in ("deletion", "insertion"):
                scores[method][curve].append(values[curve])
            largest_gap = max(largest_gap, abs(values["morf"] - values["deletion"]),
                              abs(values["lerf"] - values["insertion"]))
        # References: random maps, scored by deletion and insertion only (no figure). Pixel-sized
        # random values are scattered like gradient maps; 32-pixel blocks are coarse like
        # Grad-CAM's 7x7 grid and LIME's superpixels.
        for block in (1, 32):
            reference = random_map(image, index, label, prob, block)
            report = interpret.evaluate(reference, model, metrics=["deletion", "insertion"],
                                        metric_params={c: metric_params[c] for c in ("deletion", "insertion")})
            rows.append((reference.method, report.scores()))
            for curve in ("deletion", "insertion"):
                scores[reference.method][curve].append(report[curve].score)
        print_table(rows, [c for c in columns if any(c[0] in v for _, v in rows)], better)
        if name in BOXES:
            print(f"  point_game: F1 against the box {BOXES[name]} (x1, y1, x2, y2)")
        print(f"  figures: {', '.join(figures)}\n")

    print(f"MoRF = deletion and LeRF = insertion for every method (largest difference {largest_gap:.1e}).")
    print("Scores compare methods on the same photo and class; across photos the probabilities differ.\n")

    # -- 4. Rank the methods --------------------------------------------------------------------
    # Mean over the photos; deletion: lower is better, insertion: higher is better.
    print(f"Ranking of the methods over {len(photos)} photo(s)")
    for curve, higher in (("deletion", False), ("insertion", True)):
        means = {m: float(np.mean(scores[m][curve])) for m in METHODS}
        order = sorted(METHODS, key=lambda m: -means[m] if higher else means[m])
        ranked = "  ".join(f"{i}. {m} {means[m]:.4f}" for i, m in enumerate(order, 1))
        print(f"  by mean {curve} ({'higher' if higher else 'lower'} is better): {ranked}")
        print(f"    reference: random_1px {np.mean(scores['random_1px'][curve]):.4f}, "
              f"random_32px {np.mean(scores['random_32px'][curve]):.4f}")
    print("  Read the ranking against the random maps. Grey pixels scattered over a photo break its texture,\n"
          "  so a random map of single pixels already gets a low deletion score: scattered maps (SmoothGrad,\n"
          "  Integrated Gradients) are compared with random_1px, coarse maps (Grad-CAM, LIME) with\n"
          "  random_32px. A method is informative where it beats the random map of its kind; deletion and\n"
          "  insertion need not agree. With --fast the explanations are too rough for the ranking to mean much.\n")

    # -- 5. Sanity check: model parameter randomisation (Adebayo et al. 2018) ------------------
    # The explanation of a model must change when the model is destroyed. The check explains the
    # photo with the trained model, then re-initialises the network's top-level layers one group
    # after another, from the output down (cascading, on a deep copy: `model` is untouched), and
    # compares each new map with the trained one (Spearman rank correlation of |map|, and SSIM).
    # method_factory builds the method for each model; its seed is fixed so that only the model
    # changes between the maps.
    path = demo.image_paths()[0]                  # chelsea
    image = model.image_as_explained(path)
    target = model.top_classes(image, k=1)[0][0]
    check = evaluate.get_metric("model_randomization")(
        method_factory=lambda clf: SmoothGrad(clf, n_samples=sg_samples, random_state=0), granularity="top")
    result = check.check(model, image)
    d = result.details
    print(f"Sanity check on {Path(path).stem}: SmoothGrad ({sg_samples} samples) for "
          f"'{model.label_name(target)}', p = {d['original_probability']:.3f}")
    print("  randomised up to  spearman  ssim    p(class)  top-1 of the randomised model")
    for i, layer in enumerate(d["layers"]):
        print(f"  {layer:<17} {d['spearman'][i]:>8.3f}  {d['ssim'][i]:>6.3f}  {d['probability'][i]:>8.4f}  "
              f"{model.label_name(int(d['top1'][i]))}")
    print(f"  score (spearman after the whole network is randomised, lower passes): {result.score:.3f}")

    # For scale: the trained model's map with another noise seed. This is how reproducible the map
    # itself is; the check uses one seed for all its maps, so their shared noise keeps its values
    # a little higher than a comparison across seeds would give.
    seed0 = SmoothGrad(model, n_samples=sg_samples, random_state=0).explain(image, target)
    seed1 = SmoothGrad(model, n_samples=sg_samples, random_state=1).explain(image, target)
    print(f"  for scale: trained model, seed 0 vs seed 1: spearman {map_similarity(seed0, seed1, 'spearman'):.3f}")

    # A method that ignores the model fails: the edge map of the photo stays the same map.
    edges = evaluate.get_metric("model_randomization")(method_factory=EdgeMap, granularity="top").check(model, image)
    print(f"  an edge detector (ignores the model): spearman per step "
          f"{', '.join(f'{v:.2f}' for v in edges.details['spearman'])}  -> fails")
    print("  Reading it: p(class) falls to about 0 and the top-1 class changes, so the model really is\n"
          "  destroyed. A method passes when its similarity falls far below 1 as soon as layers are\n"
          "  randomised and ends near 0 once the whole network is random: its map depended on what the\n"
          "  model learned. It fails when the similarity stays high (near 1, like the edge map): the map\n"
          "  shows the photo, not the model. Few SmoothGrad samples give noisy maps whose values are all\n"
          "  low (see the seed-to-seed value); 25 or more samples give a clearer reading.")
    print(f"\nDone. The evaluation figures are in {save_dir.resolve()}")


if __name__ == "__main__":
    main()
