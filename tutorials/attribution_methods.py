"""Tutorial: the per-pixel attribution methods on one photo, end to end and offline.

The demo model (EfficientNet-Lite0 with its real ImageNet weights) looks at scikit-image's
'chelsea' photo (a cat). Each section asks the same question with another method - which
pixels made the model choose its top class? - writes the method's figure into --save-dir and
prints where the map is strongest. The last section puts five methods side by side.

    python tutorials/attribution_methods.py           # a few minutes on a 2-core CPU
    python tutorials/attribution_methods.py --fast    # tiny settings (about a minute), rough maps
"""
import argparse
from pathlib import Path

import numpy as np
import paddle

from paddlex_interpret import demo, interpret
from paddlex_interpret.vis import saliency_of


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Attribution methods on the demo model and photo.")
    parser.add_argument("--save-dir", default="./output/tutorial_methods", help="folder for the figures")
    parser.add_argument("--fast", action="store_true", help="tiny settings: every step runs, the maps are rough")
    return parser.parse_args(argv)


def peak(explanation):
    """Where the map drawn in the figure (vis.saliency_of: the evidence for the class) is largest."""
    s = saliency_of(explanation)
    row, col = np.unravel_index(int(np.argmax(s)), s.shape)
    return f"peak at row {row}, col {col} of the {s.shape[0]}x{s.shape[1]} image"


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    fast = args.fast
    n_samples = 4 if fast else 50        # SmoothGrad: noisy copies (1 forward + 1 backward each)
    shap_samples = 4 if fast else 20     # GradientSHAP: random draws
    steps = 8 if fast else 200           # Integrated Gradients: points on the path
    window = 56 if fast else 32          # Occlusion: window side and stride, in pixels
    scorecam_layer = "_blocks.2" if fast else "_blocks.7"   # 24 or 80 channels = forward passes
    lime_samples = 30 if fast else 800   # LIME in the comparison

    # -- 1. The model and the photo -----------------------------------------------------------
    model = demo.load_model()
    path = demo.image_paths()[0]
    image = model.image_as_explained(path)      # resized and cropped to 224x224, as explained
    index, label, prob = model.top_classes(image, k=1)[0]
    print(f"Photo {Path(path).stem}: the model predicts {label} (class {index}), p = {prob:.3f}")
    print("Every method below explains this class.\n")

    # -- 2. SmoothGrad: the input gradient averaged over noisy copies of the image -------------
    # styles picks the panels: here all four (heatmap, overlay, grayscale, threshold).
    exp = interpret.smoothgrad(path, model, save_dir=save_dir, n_samples=n_samples, random_state=0,
                               styles=("heatmap", "overlay", "grayscale", "threshold"))
    print(f"[SmoothGrad] {exp.figure_path}: {peak(exp)}")

    # -- 3. Integrated Gradients, and its completeness check ---------------------------------
    # With gradient_of='logit' the attributions should add up to f(x) - f(baseline), f being
    # the class logit; the default baseline is zeros of the normalised input (the mean colour).
    exp = interpret.intgrad(path, model, save_dir=save_dir, steps=steps, gradient_of="logit")
    x = paddle.to_tensor(model.preprocess(image[None]))
    with paddle.no_grad(), model.eval_context():
        f_x = float(model.forward(x)[0, exp.target])
        f_b = float(model.forward(paddle.zeros_like(x))[0, exp.target])
    total = float(exp.attribution.sum())
    gap = abs(total - (f_x - f_b)) / abs(f_x - f_b)
    print(f"[Integrated Gradients] {exp.figure_path}: {peak(exp)}")
    print(f"  completeness, {steps} steps: sum of attributions {total:.3f} vs "
          f"f(x) - f(baseline) = {f_x:.3f} - ({f_b:.3f}) = {f_x - f_b:.3f} ({100 * gap:.1f}% off)")

    # -- 4. GradientSHAP: gradients at random points between noisy inputs and the baseline ----
    exp = interpret.gradshap(path, model, save_dir=save_dir, n_samples=shap_samples, random_state=0)
    print(f"[GradientSHAP] {exp.figure_path}: {peak(exp)}")

    # -- 5. Occlusion: hide one window at a time and watch the probability drop --------------
    # Window = stride here, so the windows tile the image and a pixel's value is its window's drop.
    exp = interpret.occlusion(path, model, save_dir=save_dir, sliding_window_shapes=(3, window, window),
                              strides=window, progress=False)
    drop = exp.attribution[0]          # the window spans all 3 channels: they hold the same map
    row, col = np.unravel_index(int(np.argmax(drop)), drop.shape)   # the best window's top-left pixel
    print(f"[Occlusion] {exp.figure_path}: {peak(exp)}")
    print(f"  hiding rows {row}-{row + window - 1}, cols {col}-{col + window - 1} lowers p by {drop.max():.3f}")

    # -- 6. Grad-CAM: a late layer's feature maps weighted by their mean gradient -------------
    exp = interpret.gradcam(path, model, save_dir=save_dir)
    lowres = exp.extras["lowres"]
    print(f"[Grad-CAM] {exp.figure_path}: {peak(exp)}")
    print(f"  default layer: {exp.params['target_layer']!r} ({lowres.shape[0]}x{lowres.shape[1]} map, upsampled)")

    # -- 7. Score-CAM: each feature map used as a mask; one forward pass per channel ----------
    # The default layer '_bn1' has 1280 channels (minutes on a CPU); this layer has far fewer.
    exp = interpret.scorecam(path, model, save_dir=save_dir, target_layer=scorecam_layer, progress=False)
    print(f"[Score-CAM] {exp.figure_path}: {peak(exp)} (layer {scorecam_layer!r})")

    # -- 8. LRP: the class logit propagated back layer by layer (epsilon rule) ---------------
    exp = interpret.lrp(path, model, save_dir=save_dir)
    print(f"[LRP] {exp.figure_path}: {peak(exp)}")
    # On this deep network epsilon and the biases absorb most of the logit on the way down;
    # the figure is scaled to the map's own range, so only relative values matter.
    print(f"  relevance at the input sums to {exp.attribution.sum():.3f}; the logit is {f_x:.3f}")

    # -- 9. Consensus: one method over several models, each map normalised, then averaged ----
    # A real use passes several trained models. This demo has one real model, so we pass it
    # twice only to show the call: the consensus then equals that model's own (max-scaled) map.
    exp = interpret.consensus(path, [model, model], method="gradcam", save_dir=save_dir)
    single = interpret.gradcam(path, model, save_dir=None).attribution
    same = np.allclose(exp.attribution, single / single.max(), atol=1e-6)
    print(f"[Consensus] {exp.figure_path}: {peak(exp)}")
    print(f"  per-model maps {exp.extras['per_model'].shape}; equals the single Grad-CAM map: {same}")

    # -- 10. Five methods side by side ------------------------------------------------------
    # method_params go to each method's engine class. LIME's panel shows its positive superpixel weights.
    params = {
        "lime": {"num_samples": lime_samples, "random_state": 0},
        "smoothgrad": {"n_samples": min(n_samples, 25), "random_state": 0},
        "intgrad": {"steps": min(steps, 50)},
        "occlusion": {"sliding_window_shapes": (3, window, window), "strides": window, "progress": False},
    }
    explanations = interpret.compare(path, model, methods=["lime", "gradcam", "smoothgrad", "intgrad", "occlusion"],
                                     method_params=params, save_dir=save_dir)
    print(f"[compare] {explanations[0].figure_path}")
    for e in explanations:
        print(f"  {e.method:<10} {peak(e)}")
    print(f"\nDone. Everything is in {save_dir.resolve()}")


if __name__ == "__main__":
    main()
