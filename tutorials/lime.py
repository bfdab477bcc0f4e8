"""Tutorial: explain an ImageNet classifier with LIME, end to end and offline.

The demo model (EfficientNet-Lite0 with its real ImageNet weights) looks at two photos that ship
with scikit-image: 'chelsea' (a cat) and 'coffee' (a cup of espresso). For each photo we ask which
superpixels (small regions of similar colour) made the model choose its top class.

    python tutorials/lime.py                      # 1000 samples per image
    python tutorials/lime.py --num-samples 300    # quicker, rougher
"""
import argparse
from pathlib import Path

import numpy as np

from paddlex_interpret import demo, interpret
from paddlex_interpret.engine import load_explanation


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="LIME tutorial on the demo model and photos.")
    parser.add_argument("--num-samples", type=int, default=1000, help="perturbed images per explanation")
    parser.add_argument("--batch-size", type=int, default=50, help="images per forward pass (memory only)")
    parser.add_argument("--save-dir", default="./output/tutorial_lime", help="folder for figures and .npz files")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    # The same settings for every call below; random_state=0 makes every run repeat exactly.
    options = dict(num_samples=args.num_samples, batch_size=args.batch_size,
                   random_state=0, progress=not args.no_progress)

    # -- 1. The model: a Classifier that knows its preprocessing and the 1000 class names ------
    model = demo.load_model()

    for path in demo.image_paths():
        name = Path(path).stem
        print(f"\n=== {name} ===")

        # -- 2. What does the model predict? LIME explains exactly this (resized, cropped) image
        image = model.image_as_explained(path)
        top5 = model.top_classes(image, k=5)
        print("Top-5 classes:")
        for rank, (index, label, prob) in enumerate(top5, start=1):
            print(f"  {rank}. {label:<20} class {index:>3}   p = {prob:.3f}")

        # -- 3. Explain the top-1 class; the 2x5 figure is written into save_dir -------------
        exp = interpret.lime(path, model, save_dir=save_dir, **options)
        print(f"Figure: {exp.figure_path}")
        print(f"Explained: {exp.label_name} (class {exp.target}), p = {exp.probability:.3f}")
        print(f"Local fit R^2 = {exp.score:.3f} on {exp.num_superpixels} superpixels")
        if args.num_samples < 10 * exp.num_superpixels:
            print("  (fewer than ~10 samples per superpixel: treat R^2 and the ranking as rough)")

        # -- 4. The superpixels that speak most strongly for the class -----------------------
        weights = exp.weights[exp.target]
        print("Most important superpixels:")
        for sp in exp.ranked_superpixels(positive_only=True)[:5]:
            pixels = int(np.sum(exp.segments == sp))
            print(f"  superpixel {sp:>3}: weight {weights[sp]:+.4f}, {pixels:>5} pixels")

        # -- 5. Save the explanation (no pickle) and load it back ----------------------------
        saved = exp.save(save_dir / f"{name}_lime_s{args.num_samples}.npz")
        again = load_explanation(saved)
        same = np.array_equal(again.weights[again.target], weights) and again.params == exp.params
        print(f"Saved to {saved}; reloaded: {again.label_name}, identical: {same}")

    # -- 6. Explain another class, and show the evidence against it ------------------------
    # The cat photo's runner-up class is another kind of cat. Which regions argue for it?
    # show_negative=True also paints, in red, the superpixels that lower its probability.
    # With an explicit target the figure's name gets the class: <name>_lime_s<N>_class<k>.png.
    path = demo.image_paths()[0]
    second_index, second_label, _ = model.top_classes(model.image_as_explained(path), k=5)[1]
    other = interpret.lime(path, model, save_dir=save_dir, target=second_index,
                           show_negative=True, **options)
    print(f"\n=== {Path(path).stem}: second class ===")
    print(f"Explained: {other.label_name} (class {other.target}), p = {other.probability:.3f}, "
          f"R^2 = {other.score:.3f}")
    print(f"Figure with red (negative) superpixels: {other.figure_path}")
    w = other.weights[other.target]
    against = [int(sp) for sp in np.argsort(w, kind="stable")[:5] if w[sp] < 0]
    print(f"Superpixels most against {second_label}: {against}")
    print(f"\nDone. Everything is in {save_dir.resolve()}")


if __name__ == "__main__":
    main()
