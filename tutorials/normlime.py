"""Tutorial: NormLIME and G-LIME on an ImageNet classifier, end to end (offline too).

NormLIME (Ahern et al. 2019) adds *global* knowledge to LIME: over a dataset it learns, for every
class, which kinds of superpixels (k-means clusters of features from the first three layers of a
ResNet50_vc, "the prior") usually matter. PaddleX's figure then shows three rows: LIME (this
image only), NormLIME (the global weight of each superpixel's cluster) and Combined (their
product). G-LIME uses the same global weights as a prior that pulls LIME's local fit towards them.

The prior assets. PaddleX downloads them (pre_models.tar.gz: ResNet50_vc stem weights + k-means).
This tutorial first tries to get those real assets (download, or a tarball you placed by hand).
Without network access it builds a DEMONSTRATION prior instead: k-means over superpixels of a few
photos, with features from a RANDOMLY INITIALISED stem. Every step then runs exactly as with the
real assets, but the global weights (the NormLIME row, the Combined row and G-LIME's pull) are
illustrative only. For meaningful ones use the real assets (go online once, or place the tarball
by hand where the printed message says, or pass --assets-dir), or build your own prior from a
real ResNet50_vc/vd stem:  paddlex-interpret build-prior --images DIR --out DIR
--stem-weights ResNet50_vc_pretrained.pdparams

    python tutorials/normlime.py                       # 1000 samples per explanation
    python tutorials/normlime.py --num-samples 300     # quicker, rougher
    python tutorials/normlime.py --assets-dir ~/.paddlex/pre_models
"""
import argparse
import time
from pathlib import Path

import numpy as np

from paddlex_interpret import demo, interpret
from paddlex_interpret.priors import PriorAssetsError, asset_problems, ensure_prior_assets, write_lod_tensor
from paddlex_interpret.priors.build import build_prior
from paddlex_interpret.priors.download import PARAM_SHAPES
from paddlex_interpret.vis import save_lime_figure

STRONG_PRIOR = 1000.0  # a prior_reg_force large enough for the prior to dominate the local fit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="NormLIME and G-LIME tutorial on the demo model and photos.")
    parser.add_argument("--num-samples", type=int, default=1000, help="perturbed images per explanation")
    parser.add_argument("--batch-size", type=int, default=50, help="images per forward pass (memory only)")
    parser.add_argument("--save-dir", default="./output/tutorial_normlime", help="folder for all outputs")
    parser.add_argument("--assets-dir", default=None,
                        help="a folder with real prior assets (kmeans_model.pkl + 15 for_kmeans_* files)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser.parse_args(argv)


def write_photos(folder: Path):
    """A small 'dataset' of real photos (scikit-image and scikit-learn ship them)."""
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder.mkdir(parents=True, exist_ok=True)
    photos = {name: getattr(skimage.data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")}
    photos["motorcycle"] = skimage.data.stereo_motorcycle()[0]
    sample = load_sample_images()
    for file_name, image in zip(sample.filenames, sample.images):
        photos[Path(file_name).stem] = image  # china, flower
    for name, image in photos.items():
        Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB").save(folder / f"{name}.png")
    return folder / "chelsea.png"


def random_stem(folder: Path) -> Path:
    """15 randomly initialised stem parameters, in the legacy file format PaddleX's assets use."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, shape in PARAM_SHAPES.items():
        if name.endswith("_weights"):  # conv kernels: He initialisation
            fan_in = shape[1] * shape[2] * shape[3]
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        elif name.endswith("_scale"):
            value = np.ones(shape)
        elif name.endswith("_variance"):  # must be positive
            value = rng.uniform(0.5, 1.5, size=shape)
        else:  # offset, mean
            value = rng.normal(0.0, 0.1, size=shape)
        write_lod_tensor(folder / name, value.astype(np.float32))
    return folder


def get_prior(args, save_dir: Path, photos: Path, progress: bool):
    """Return (asset folder, is_real)."""
    if args.assets_dir:
        problems = asset_problems(args.assets_dir)
        if problems:
            raise SystemExit(f"--assets-dir '{args.assets_dir}' is not a prior asset folder: " + "; ".join(problems))
        return Path(args.assets_dir), True
    try:
        return ensure_prior_assets(progress=progress), True
    except PriorAssetsError as exc:
        print("Could not get PaddleX's prior assets:")
        print("  " + str(exc).replace("\n", "\n  "))
    # Offline: a DEMONSTRATION prior. The k-means is fitted on real photos, but the stem that
    # describes each superpixel is random, so the clusters (and every global weight) carry no
    # learned meaning. Replace it by a real stem: build_prior(..., stem_weights='<ResNet50_vc or
    # ResNet50_vd .pdparams>') or `paddlex-interpret build-prior --stem-weights ...`.
    demo_prior = save_dir / "demo_prior"
    if not asset_problems(demo_prior):
        print(f"Reusing the DEMONSTRATION prior in {demo_prior}")
    else:
        print("Building a DEMONSTRATION prior: k-means (8 clusters) over superpixels of the photos,")
        print("with a RANDOMLY INITIALISED ResNet50_vc stem (no real weights are available offline).")
        stem = random_stem(save_dir / "random_stem")
        build_prior(images=photos, out_dir=demo_prior, clusters=8, stem_weights=stem, progress=progress,
                    overwrite=True)
    print("  -> the global weights below are ILLUSTRATIVE ONLY. For real ones: run once online, place")
    print("     pre_models.tar.gz where the message above says, pass --assets-dir, or build a prior with")
    print("     `paddlex-interpret build-prior --images DIR --out DIR --stem-weights <ResNet50_vc/vd .pdparams>`.")
    return demo_prior, False


def top(explanation, k=5):
    """The k superpixels with the largest weights for the explained class, most important first."""
    w = explanation.weights[explanation.target]
    return [int(sp) for sp in np.argsort(-w, kind="stable")[:k]]


def correlation(a, b) -> str:
    """Pearson correlation as text ('n/a' when one side is constant, e.g. a uniform prior)."""
    if np.std(a) == 0 or np.std(b) == 0:
        return "n/a"
    return f"{np.corrcoef(a, b)[0, 1]:+.2f}"


def main(argv=None):
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    progress = not args.no_progress
    options = dict(num_samples=args.num_samples, batch_size=args.batch_size, random_state=0, progress=progress)

    # -- 1. The model and a small folder of real photos (the dataset for the global weights) --
    model = demo.load_model()
    photos = save_dir / "photos"
    chelsea = write_photos(photos)
    print(f"Photos: {sorted(p.name for p in photos.iterdir())}")

    # -- 2. The prior: real PaddleX assets if possible, else a demonstration prior -----------
    assets, real = get_prior(args, save_dir, photos, progress)
    print(f"Prior assets: {assets} ({'real' if real else 'DEMONSTRATION, random stem'})")

    # -- 3. NormLIME. The first call computes the global weights over the photos and writes
    #       them (no pickle) to save_dir/normlime_weights.npz; the 4x5 figure goes to save_dir.
    weights_file = save_dir / "normlime_weights.npz"
    weights_file.unlink(missing_ok=True)  # start fresh, so that step 4 really shows the reuse
    start = time.perf_counter()
    result = interpret.normlime(chelsea, model, dataset=photos, save_dir=save_dir, assets_dir=assets, **options)
    first_s = time.perf_counter() - start
    print(f"\nExplained: {result.lime.label_name} (class {result.target}), p = {result.lime.probability:.3f}")
    print(f"Figure: {result.figure_path}")
    print(f"Global weights file: {result.weights_file}")
    print(f"Top superpixels ({result.lime.num_superpixels} in all):")
    print(f"  LIME     : {top(result.lime)}")
    print(f"  NormLIME : {top(result.normlime)}")
    print(f"  Combined : {top(result.combined)}")

    # -- 4. Again, without a dataset: the weights file matches the model and the prior, so it
    #       is reused (a stale or corrupt file would be an error here, as there is no dataset).
    written = Path(result.weights_file).stat().st_mtime_ns
    start = time.perf_counter()
    again = interpret.normlime(chelsea, model, save_dir=save_dir, assets_dir=assets, **options)
    second_s = time.perf_counter() - start
    reused = again.weights_file == result.weights_file and Path(again.weights_file).stat().st_mtime_ns == written
    print(f"\nSecond call without dataset: weights file reused (not recomputed): {reused} ({again.weights_file})")
    print(f"  first call (global weights + explanation): {first_s:.1f} s; second call: {second_s:.1f} s")

    # -- 5. G-LIME: the local fit pulled towards the NormLIME weights (the prior). With a small
    #       pull the ranking is LIME's; with a large one it moves to the prior's ranking.
    prior = result.normlime.weights[result.target]
    print("\nG-LIME (prior = each superpixel's NormLIME weight; superpixels of a cluster share it):")
    print(f"  {'plain LIME':<22}: top {top(result.lime)}, correlation with the prior: "
          f"{correlation(result.lime.weights[result.target], prior)}, "
          f"their prior weights {np.round(prior[top(result.lime)], 3).tolist()}")
    for force in (1.0, STRONG_PRIOR):
        exp = interpret.glime(chelsea, model, save_dir=save_dir, assets_dir=assets, prior_reg_force=force,
                              save_figure=(force == 1.0), **options)
        if force != 1.0:  # the default name, <image>_glime_s<N>.png, would overwrite the first figure
            exp.figure_path = str(save_lime_figure(exp, save_dir / f"chelsea_glime_s{args.num_samples}_force{force:g}.png"))
        # Same image, same seed -> the same superpixels as the NormLIME result, so the weights
        # can be compared one to one with the prior.
        ranked = top(exp)
        label = f"prior_reg_force {force:g}"
        if np.array_equal(exp.segments, result.segments):
            print(f"  {label:<22}: top {ranked}, correlation with the prior: "
                  f"{correlation(exp.weights[exp.target], prior)}, "
                  f"their prior weights {np.round(prior[ranked], 3).tolist()}")
        else:
            print(f"  {label:<22}: top {ranked} (other superpixels than the NormLIME result)")
        print(f"  {'':<22}  figure {exp.figure_path}")
    print(f"  (largest prior weight: {prior.max():.3f}; the stronger the pull, the more the top superpixels\n"
          "   are those of the prior's favourite clusters)")
    if not real:
        print("  (demonstration prior: this shows the mechanism, not what the model has learnt)")
    print(f"\nDone. Everything is in {save_dir.resolve()}")


if __name__ == "__main__":
    main()
