"""Command line: ``paddlex-interpret demo | lime | normlime | explain METHOD | compare | evaluate | build-prior``.

``explain`` has one subcommand per image method of the engine's registry, with options derived
from that method's free function in :mod:`paddlex_interpret.interpret` (its keyword parameters and
their defaults), so a new method gets its command without touching this file.
"""
from __future__ import annotations

import argparse
import sys
import inspect
from typing import Any, Dict, List, Optional

__all__ = ["main", "build_parser"]


def _positive_int(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _hide_color(text: str):
    if text == "mean":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"expected a grey level 0..255 or 'mean', got {text!r}")
    return value


def _triple(text: str):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers R,G,B, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .demo import DEFAULT_NUM_SAMPLES

    from .engine import available

    methods = "\n".join(f"  {s.name:<11} {s.summary}" for s in available())
    parser = argparse.ArgumentParser(
        prog="paddlex-interpret",
        description="Explain the predictions of PaddlePaddle image and text classifiers.",
        epilog=f"methods (paddlex-interpret explain METHOD IMAGE ...):\n{methods}\n\n"
               "Run 'paddlex-interpret COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p, default_samples):
        p.add_argument("--save-dir", default="./output", metavar="DIR",
                       help="folder for the figures (created if missing; default: ./output)")
        p.add_argument("--num-samples", type=_positive_int(2), default=default_samples, metavar="N",
                       help=f"perturbed samples per image (default: {default_samples})")
        p.add_argument("--batch-size", type=_positive_int(1), default=50, metavar="B",
                       help="samples per forward pass (default: 50)")
        p.add_argument("--seed", type=_positive_int(0), default=0, metavar="S",
                       help="random seed; the same seed gives the same figure (default: 0)")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def model_options(p):
        g = p.add_argument_group(
            "model", "default: the demo's ImageNet EfficientNet-Lite0. Preprocessing and labels come from the "
                     "model's config; the --resize-short/--crop-size/--mean/--std/--scale flags give them for an "
                     "exported model without one (unset flags take ImageNet defaults: 256, 224, ImageNet mean/std "
                     "on 0-1 pixels)")
        g.add_argument("--model", metavar="PATH", default=None,
                       help="a PaddleX model directory (inference.yml), a PaddleClas config YAML (with --weights), "
                            "or an exported model (paddle.jit.save prefix, .json/.pdmodel file or directory)")
        g.add_argument("--weights", metavar="FILE", default=None,
                       help="trained .pdparams for a PaddleClas config (or the dygraph twin of a PaddleX model)")
        g.add_argument("--labels", metavar="FILE", default=None, help="class names, one per line")
        g.add_argument("--resize-short", type=_positive_int(1), default=None, metavar="N")
        g.add_argument("--crop-size", type=_positive_int(1), default=None, metavar="N")
        g.add_argument("--mean", type=_triple, default=None, metavar="R,G,B")
        g.add_argument("--std", type=_triple, default=None, metavar="R,G,B")
        g.add_argument("--scale", type=float, default=None, metavar="S", help="pixel factor before mean/std")

    demo = sub.add_parser(
        "demo", help="explain two real photos with a real ImageNet model (EfficientNet-Lite0)",
        description="Run LIME with the ImageNet EfficientNet-Lite0 on scikit-image's 'chelsea' (a cat) and "
                    "'coffee' (an espresso) photos, print each photo's top-5 classes and write the figures.",
    )
    common(demo, DEFAULT_NUM_SAMPLES)

    lime = sub.add_parser(
        "lime", help="explain one image with LIME",
        description="Explain IMAGE with LIME and write <name>_lime_s<N>.png, PaddleX's 2x5 LIME figure. "
                    "The model is --model, or the demo's ImageNet EfficientNet-Lite0.",
    )
    lime.add_argument("image", metavar="IMAGE", help="image file (jpg, png, bmp, tiff, ...)")
    common(lime, 3000)
    model_options(lime)
    lime.add_argument("--top-k", type=_positive_int(1), default=1, metavar="K",
                      help="explain the K most probable classes; the figure shows the first (default: 1)")
    lime.add_argument("--target", type=_positive_int(0), default=None, metavar="CLASS",
                      help="explain this class index instead of the top-1")
    lime.add_argument("--hide-color", type=_hide_color, default=0, metavar="V",
                      help="fill of hidden superpixels: grey level 0..255 or 'mean' (default: 0, black)")
    lime.add_argument("--show-negative", action="store_true",
                      help="also paint superpixels that speak against the class (red)")
    lime.add_argument("--save-explanation", action="store_true",
                      help="also save the explanation as <name>_lime_s<N>.npz")
    normlime = sub.add_parser(
        "normlime", help="explain one image with NormLIME (LIME + global weights over a dataset)",
        description="Explain IMAGE with NormLIME and write <name>_normlime_s<N>.png, PaddleX's 4x5 figure "
                    "(LIME, NormLIME and Combined rows). The global weights are computed once over --dataset "
                    "and kept in --weights-file. The model is --model, or the demo's ImageNet EfficientNet-Lite0.",
    )
    normlime.add_argument("image", metavar="IMAGE", help="image file")
    common(normlime, 3000)
    model_options(normlime)
    normlime.add_argument("--dataset", metavar="PATH", default=None,
                          help="a PaddleX file list ('path label' lines) or a folder of images; "
                               "needed unless --weights-file already holds matching weights")
    normlime.add_argument("--weights-file", metavar="FILE", default=None,
                          help="global weights file (default: SAVE_DIR/normlime_weights.npz)")
    normlime.add_argument("--assets-dir", metavar="DIR", default=None,
                          help="prior asset folder (default: download/cache PaddleX's, see "
                               "PADDLEX_INTERPRET_PRIOR_URL / PADDLEX_INTERPRET_PRIOR_MD5)")
    normlime.add_argument("--algorithm", choices=("paddlex", "lime_average"), default="paddlex",
                          help="how the global weights are computed (default: paddlex)")

    explain = sub.add_parser(
        "explain", help="explain one image (or text) with any method (one subcommand per method)",
        description="Explain IMAGE (TEXT for text methods) with METHOD and write its figure into --save-dir. Each "
                    "method's options are its interpret.<method> parameters; the model is --model, or the demo's "
                    "EfficientNet-Lite0 for image methods.",
    )
    methods_sub = explain.add_subparsers(dest="explain_method", metavar="METHOD")
    from .engine import get_method

    for name in _EXPLAIN_METHODS:
        spec = get_method(name)
        m = methods_sub.add_parser(name, help=spec.summary, description=spec.summary + ".")
        if spec.explains == "text":
            m.add_argument("input", metavar="TEXT", help="the text to explain")
        else:
            m.add_argument("input", metavar="IMAGE", help="image file")
        _method_options(m, spec.function)
        if spec.explains == "text":
            m.add_argument("--model", metavar="DIR", required=True,
                           help="a PaddleNLP sequence classifier saved with save_pretrained (with its tokenizer)")
            m.add_argument("--tokenizer", metavar="DIR", default=None, help="the tokenizer's folder (default: --model)")
        elif spec.explains == "image_text":
            m.add_argument("--model", metavar="DIR", required=True,
                           help="a PaddleNLP CLIPModel saved with save_pretrained (with its tokenizer)")
            m.add_argument("--tokenizer", metavar="DIR", default=None, help="the tokenizer's folder (default: --model)")
            m.add_argument("--text", dest="texts", metavar="TEXT", action="append", required=True,
                           help="a candidate text (repeat for each; --target picks one by its index, default: the "
                                "best match)")
        elif name == "consensus":
            m.add_argument("--model", metavar="PATH", action="append", required=True,
                           help="a model (as for the other commands; 'demo' for the demo model); repeat for each")
        else:
            model_options(m)
        m.add_argument("--save-explanation", action="store_true",
                       help="also save the explanation next to the figure (.npz; for 'paddlex-interpret evaluate')")

    compare = sub.add_parser(
        "compare", help="explain one image with several methods, side by side",
        description="Run several methods on IMAGE for one class and write <name>_compare.png.",
    )
    compare.add_argument("image", metavar="IMAGE", help="image file")
    compare.add_argument("--methods", type=_names, default="lime,gradcam,smoothgrad,intgrad", metavar="M1,M2",
                         help="comma-separated methods (default: lime,gradcam,smoothgrad,intgrad)")
    compare.add_argument("--target", type=_positive_int(0), default=None, metavar="CLASS",
                         help="class index to explain with every method (default: the top-1)")
    compare.add_argument("--lime-num-samples", type=_positive_int(2), default=1000, metavar="N",
                         help="LIME's samples (default: 1000)")
    compare.add_argument("--style", choices=("heatmap", "overlay", "grayscale", "threshold"), default="overlay")
    compare.add_argument("--save-dir", default="./output", metavar="DIR", help="folder for the figure (default: ./output)")
    model_options(compare)

    evaluate = sub.add_parser(
        "evaluate", help="score a saved explanation with evaluation metrics",
        description="Score EXPLANATION (an .npz written with --save-explanation) with the metrics and print a table; "
                    "--save-dir also writes the deletion/insertion curves.",
    )
    evaluate.add_argument("explanation", metavar="EXPLANATION", help="explanation file (.npz)")
    evaluate.add_argument("--metrics", type=_names, default="deletion,insertion", metavar="M1,M2",
                          help="comma-separated metrics (default: deletion,insertion)")
    evaluate.add_argument("--batch-size", type=_positive_int(1), default=50, metavar="B")
    evaluate.add_argument("--bbox", type=_ints, default=None, metavar="X1,Y1,X2,Y2", help="box for point_game")
    evaluate.add_argument("--save-dir", default=None, metavar="DIR", help="folder for the curves figure")
    model_options(evaluate)

    build = sub.add_parser(
        "build-prior", help="build NormLIME prior assets (stem weights + k-means) from your own images",
        description="Compute the prior stem's superpixel features over a folder of images, fit k-means and write "
                    "the asset layout PaddleX downloads (15 for_kmeans_* files + kmeans_model.pkl) into --out.",
    )
    build.add_argument("--images", required=True, metavar="DIR", help="folder of images (searched recursively)")
    build.add_argument("--clusters", type=_positive_int(2), default=30, metavar="K",
                       help="number of k-means clusters (default: 30)")
    build.add_argument("--out", required=True, metavar="DIR", help="output folder (must be empty or missing)")
    build.add_argument("--stem-weights", metavar="PATH", default=None,
                       help="a prior asset folder or a PaddleClas ResNet50_vc/vd .pdparams checkpoint "
                            "(default: the downloaded PaddleX assets)")
    build.add_argument("--max-images", type=_positive_int(1), default=None, metavar="N",
                       help="use a seeded random sample of N images")
    build.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    build.add_argument("--seed", type=_positive_int(0), default=0, metavar="S", help="seed of the segmentation, the --max-images sample and k-means (default: 0)")
    build.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    # -- training-data explanations --
    training = sub.add_parser(
        "training-data", help="rank the training samples of a recorded training by how likely their label is wrong",
        description="Read a training-dynamics folder (written by TrainingDynamicsRecorder / TrainingDynamicsCallback),"
                    " write the ranked table <name>_<method>.csv and the data map <name>_data_map.png into --save-dir "
                    "and print the top suspects.",
    )
    training.add_argument("dynamics", metavar="DYNAMICS_DIR", help="the recording folder")
    training.add_argument("--method", default="tidy", choices=("tidy", "aum", "data_map", "forgetting", "bhdf"),
                          help="ranking method (default: tidy)")
    training.add_argument("--epochs", type=_positive_int(1), default=None, metavar="N",
                          help="use only the first N recorded epochs (default: all)")
    training.add_argument("--top-k", type=_positive_int(1), default=10, metavar="K",
                          help="suspects printed (default: 10)")
    training.add_argument("--labels", metavar="FILE", default=None, help="class names, one per line")
    training.add_argument("--threshold-samples", metavar="FILE", default=None,
                          help="with --method aum: the ThresholdSamples .npz the training used (aum_threshold_samples"
                               "(...).save); flags the samples at or below the calibrated AUM cut-off")
    training.add_argument("--name", default="training", metavar="STEM", help="file name stem (default: training)")
    training.add_argument("--save-dir", default="./output", metavar="DIR",
                          help="folder for the CSV and the figure (default: ./output)")

    # -- the explain button --
    gui = sub.add_parser(
        "gui", help="a local web page to explain images (and texts) with any method",
        description="Serve the explain-button page on 127.0.0.1 and print its URL (with a random token). "
                    "Pick a model, drop an image (or type a sentence), choose a method and press Explain. Without "
                    "--model the demo's ImageNet EfficientNet-Lite0 is served. See docs/gui.md for the JSON API.",
    )
    gui.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH",
                     help="a model to offer, by id NAME (default: the folder name): a PaddleX model directory, an "
                          "exported model, a PaddleClas config, a PaddleNLP save_pretrained folder (a text model), or "
                          "'demo'; repeat for several")
    gui.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    gui.add_argument("--port", type=_positive_int(1), default=8765, help="port (default: 8765)")
    gui.add_argument("--allow-remote", action="store_true",
                     help="allow a --host other than loopback (others on the network can then reach the page)")
    gui.add_argument("--open", action="store_true", help="open the page in the default browser")
    gui.add_argument("--max-upload-mb", type=_positive_int(1), default=20, metavar="MB",
                     help="largest upload (default: 20)")
    gui.add_argument("--max-pixels", type=_positive_int(1), default=24_000_000, metavar="N",
                     help="largest image, width x height (default: 24000000)")
    _add_batch_parser(sub, model_options)  # paddlex-interpret batch explain|sweep|normlime
    return parser


def _explain_methods() -> tuple:
    from .engine import method_names

    return tuple(method_names())


#: every method of the registry gets an ``explain`` subcommand
_EXPLAIN_METHODS = _explain_methods()
#: free-function parameters given by the shared options (or not offered on the command line)
_SHARED = {"img_file": None, "text": None, "model": None, "models": None, "tokenizer": None, "save_dir": "save_dir",
           "random_state": "seed", "progress": "no_progress", "channel_order": None, "save_figure": None,
           "styles": "styles", "dataset": "dataset", "method_params": "set",
           # image-text (CLIP) methods: --text (repeatable) gives the texts, tokenized into input_ids
           "texts": "texts", "input_ids": None, "preprocess": None}


def _names(text: str) -> List[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _ints(text: str):
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _literal(text: str):
    """A command-line value: int, float, a comma-separated tuple of numbers, 'none', or the text itself."""
    if text.lower() == "none":
        return None
    if "," in text:
        parts = [_literal(t) for t in text.split(",")]
        if all(isinstance(p, (int, float)) for p in parts):
            return tuple(parts)
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _typed(default):
    """An argparse type for a parameter with this default."""
    if isinstance(default, int) and not isinstance(default, bool):
        return _positive_int(0) if default >= 0 else int
    if isinstance(default, float):
        return float
    return _literal  # None, tuples (comma-separated) and names


def method_parameters(method: str) -> Dict[str, inspect.Parameter]:
    """The free function's parameters that ``explain METHOD`` turns into options (all but the shared ones)."""
    from . import interpret

    from .engine import get_method

    sig = inspect.signature(getattr(interpret, get_method(method).function))
    return {n: p for n, p in sig.parameters.items() if n not in _SHARED and p.kind != p.VAR_KEYWORD}


def _method_options(p: argparse.ArgumentParser, method: str) -> None:
    from . import interpret

    sig = inspect.signature(getattr(interpret, method))
    g = p.add_argument_group(f"{method} parameters", f"see help(paddlex_interpret.interpret.{method})")
    for name, param in method_parameters(method).items():
        flag = "--" + name.replace("_", "-")
        default = param.default
        if isinstance(default, bool):
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=f"(default: {default})")
        else:
            g.add_argument(flag, type=_typed(default), default=default, metavar="V", help=f"(default: {default!r})")
    if any(q.kind == q.VAR_KEYWORD for q in sig.parameters.values()) or "method_params" in sig.parameters:
        g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="further keyword arguments of the method (repeatable)")
    p.add_argument("--save-dir", default="./output", metavar="DIR",
                   help="folder for the figure (created if missing; default: ./output)")
    if "random_state" in sig.parameters:
        p.add_argument("--seed", type=_positive_int(0), default=0, metavar="S",
                       help="random seed; the same seed gives the same figure (default: 0)")
    if "progress" in sig.parameters:
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    if "styles" in sig.parameters:
        p.add_argument("--styles", type=_names, default=None, metavar="S1,S2",
                       help="figure panels: heatmap, overlay, grayscale, threshold (default: heatmap,overlay)")
    if "dataset" in sig.parameters:
        p.add_argument("--dataset", metavar="PATH", default=None,
                       help="a PaddleX file list or a folder of images for the NormLIME global weights")


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status. The process's warning filters are left as they were."""
    import warnings

    with warnings.catch_warnings():
        # Paddle warns about a C++ build cache on import; irrelevant to users of this tool.
        warnings.filterwarnings("ignore", message="No ccache found")
        return _main(argv)


def _main(argv: Optional[List[str]]) -> int:
    from .priors.download import PriorAssetsError  # no paddle import

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            from . import demo

            demo.run(save_dir=args.save_dir, num_samples=args.num_samples, batch_size=args.batch_size,
                     random_state=args.seed, progress=not args.no_progress)
            return 0
        if args.command == "normlime":
            return _run_normlime(args)
        if args.command == "explain":
            if args.explain_method is None:
                parser.parse_args(["explain", "--help"])
            return _run_explain(args)
        if args.command == "compare":
            return _run_compare(args)
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.command == "batch":
            return _run_batch(args, parser)
        if args.command == "build-prior":
            from .priors.build import build_prior

            out = build_prior(args.images, args.out, clusters=args.clusters, stem_weights=args.stem_weights,
                              random_state=args.seed, progress=not args.no_progress, max_images=args.max_images,
                              overwrite=args.overwrite)
            print(f"prior assets written to {out}")
            return 0
        if args.command == "training-data":
            return _run_training_data(args)
        if args.command == "gui":
            return _run_gui(args)
        return _run_lime(args)
    except (FileNotFoundError, FileExistsError, ValueError, TypeError, ImportError, NotADirectoryError,
            OSError, PriorAssetsError) as exc:
        print(f"paddlex-interpret: error: {exc}", file=sys.stderr)
        return 1


def _load_model(args):
    """The classifier the command explains: --model (with its options) or the demo model."""
    from . import demo

    geometry = {k: getattr(args, k) for k in ("resize_short", "crop_size", "mean", "std", "scale")
                if getattr(args, k) is not None}
    if args.model is None:
        if geometry or args.weights or args.labels:
            raise ValueError("--weights, --labels and the preprocessing flags need --model")
        return demo.load_model()
    from .data import ImagePreprocess
    from .models import as_classifier

    overrides = {}
    if geometry:
        overrides["preprocess"] = ImagePreprocess(**geometry)
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            overrides["labels"] = [line.strip() for line in f if line.strip()]
    if args.weights:
        overrides["weights"] = args.weights
    return as_classifier(args.model, **overrides)


def _run_lime(args) -> int:
    from pathlib import Path

    from . import interpret

    model = _load_model(args)
    explanation = interpret.lime(
        args.image, model, num_samples=args.num_samples, batch_size=args.batch_size, save_dir=args.save_dir,
        target=args.target, top_k=args.top_k, hide_color=args.hide_color, show_negative=args.show_negative,
        random_state=args.seed, progress=not args.no_progress,
    )
    for t in explanation.targets:
        print(f"class {t} ({explanation.label_names[t]}): probability {explanation.probabilities[t]:.3f}, "
              f"local fit R^2 {explanation.scores[t]:.3f}")
    print(f"figure: {explanation.figure_path}")
    if args.save_explanation:
        print(f"explanation: {explanation.save(Path(explanation.figure_path).with_suffix('.npz'))}")
    return 0


def _run_normlime(args) -> int:
    from . import interpret

    model = _load_model(args)
    result = interpret.normlime(
        args.image, model, dataset=args.dataset, num_samples=args.num_samples, batch_size=args.batch_size,
        save_dir=args.save_dir, normlime_weights_file=args.weights_file, algorithm=args.algorithm,
        assets_dir=args.assets_dir, random_state=args.seed, progress=not args.no_progress,
    )
    print(f"class {result.target} ({result.lime.label_name}): probability {result.lime.probability:.3f}")
    print(f"global weights: {result.weights_file}")
    print(f"figure: {result.figure_path}")
    return 0



def _print_result(explanation) -> None:
    if "text_relevance" in (getattr(explanation, "extras", None) or {}):  # image-text: the texts' softmax
        print(f"text {explanation.target} ({explanation.label_name!r}): match probability "
              f"{explanation.probability:.3f} among the texts")
        print(f"figure: {explanation.figure_path}")
        return
    print(f"class {explanation.target} ({explanation.label_name}): probability {explanation.probability:.3f}")
    if getattr(explanation, "tokens", None) is not None:
        print("tokens for the class: " + ", ".join(f"{t.token} {t.weight:+.3f}" for t in explanation.top_tokens(k=5)))
        print(f"page: {explanation.html_path}")
    else:
        print(f"figure: {explanation.figure_path}")


def _models_of(args):
    """The model(s) ``explain`` runs: a text classifier, ``(CLIP model, tokenizer)`` for an image-text
    method, the list for consensus, or one image classifier."""
    from .engine import get_method

    spec = get_method(args.explain_method)
    if spec.explains == "text":
        from .models.paddlenlp import load_text_classifier

        return load_text_classifier(args.model, args.tokenizer)
    if spec.explains == "image_text":
        from .models.clip_attention import load_clip

        return load_clip(args.model, args.tokenizer)
    if args.explain_method == "consensus":
        from . import demo
        from .models import as_classifier

        return [demo.load_model() if path == "demo" else as_classifier(path) for path in args.model]
    return _load_model(args)


def _run_explain(args) -> int:
    import inspect
    from pathlib import Path

    from . import interpret
    from .engine import get_method

    function = getattr(interpret, get_method(args.explain_method).function)
    takes = inspect.signature(function).parameters
    kwargs: Dict[str, Any] = {name: getattr(args, name) for name in method_parameters(args.explain_method)}
    extra = {}
    for item in getattr(args, "set", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        extra[key.replace("-", "_")] = _literal(value)
    if "method_params" in takes:
        kwargs["method_params"] = extra
    else:
        kwargs.update(extra)
    shared = {"save_dir": args.save_dir}
    if hasattr(args, "seed"):
        shared["random_state"] = args.seed
    if hasattr(args, "no_progress"):
        shared["progress"] = not args.no_progress
    if getattr(args, "styles", None):
        shared["styles"] = args.styles
    if hasattr(args, "dataset"):
        shared["dataset"] = args.dataset
    model = _models_of(args)
    if get_method(args.explain_method).explains == "image_text":
        from .models.clip_attention import clip_input_ids

        model, tokenizer = model
        shared.update(input_ids=clip_input_ids(tokenizer, args.texts, model), texts=args.texts)
    explanation = function(args.input, model, **kwargs, **shared)
    _print_result(explanation)
    if args.save_explanation:
        written = getattr(explanation, "figure_path", None) or getattr(explanation, "html_path", None)
        print(f"explanation: {explanation.save(Path(written).with_suffix('.npz'))}")
    return 0


def _run_compare(args) -> int:
    from . import interpret

    explanations = interpret.compare(args.image, _load_model(args), methods=args.methods, target=args.target,
                                     lime_num_samples=args.lime_num_samples, style=args.style, save_dir=args.save_dir)
    for exp in explanations:
        print(f"{exp.method}: class {exp.target} ({exp.label_name}), probability {exp.probability:.3f}")
    print(f"figure: {explanations[0].figure_path}")
    return 0


def _run_evaluate(args) -> int:
    from pathlib import Path

    from . import interpret
    from .engine import load_explanation

    explanation = load_explanation(args.explanation)
    inputs = {"bbox": args.bbox} if args.bbox is not None else {}
    report = interpret.evaluate(explanation, _load_model(args), metrics=args.metrics, batch_size=args.batch_size,
                                save_dir=args.save_dir, name=Path(args.explanation).stem, **inputs)
    print(report)
    if report.figure_path:
        print(f"figure: {report.figure_path}")
    return 0


def _run_training_data(args) -> int:
    """``paddlex-interpret training-data DIR``: the ranked CSV, the data map figure, the top suspects."""
    from . import interpret

    names = None
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    result = interpret.find_label_errors(args.dynamics, method=args.method, epochs=args.epochs, label_names=names,
                                         save_dir=args.save_dir, name=args.name,
                                         threshold_samples=args.threshold_samples)
    map_names = names + ["(threshold class)"] if names and args.threshold_samples else names
    cartography = interpret.data_map(args.dynamics, epochs=args.epochs, label_names=map_names, save_dir=args.save_dir,
                                     name=args.name)
    if args.threshold_samples:
        print(f"AUM cut-off {result.params['threshold']:.4f} ({result.params['percentile']:g}th percentile of "
              f"{result.params['num_threshold_samples']} threshold samples): {result.params['num_flagged']} of "
              f"{result.num_samples} samples flagged")
    print(f"{result.num_samples} samples over {result.params['num_epochs']} epochs; top {args.top_k} suspects "
          f"({args.method}):")
    for i in result.ranking()[:args.top_k]:
        given, pred = int(result.given_labels[i]), int(result.predicted_labels[i])
        if names:
            given, pred = result._name(given), result._name(pred)
        print(f"  sample {int(result.sample_ids[i])}: given {given}, predicted {pred}, "
              f"suspicion {float(result.suspicion[i]):.3f}")
    print(f"table: {result.csv_path}")
    print(f"data map: {cartography.figure_path}")
    return 0


def gui_models(specs: List[str]) -> Dict[str, str]:
    """``--model [NAME=]PATH`` values -> ``{name: path}`` (the demo model when none is given)."""
    import os

    models: Dict[str, str] = {}
    for spec in specs or ["demo"]:
        name, sep, path = spec.partition("=")
        if not sep or not name or any(c in name for c in "/\\") or os.path.exists(spec):
            name, path = "", spec
        if not path:
            raise ValueError(f"--model takes [NAME=]PATH, got {spec!r}")
        name = name or ("demo" if path == "demo" else os.path.basename(os.path.normpath(path)) or "model")
        if name in models:
            raise ValueError(f"two models are called {name!r}; give each a NAME= of its own")
        models[name] = path
    return models


def _run_gui(args) -> int:
    """``paddlex-interpret gui``: load the models, print the URL with the token, serve until Ctrl-C."""
    from .gui.server import check_bind_host, serve

    check_bind_host(args.host, args.allow_remote)  # refuse before loading models
    serve(gui_models(args.model), host=args.host, port=args.port, open_browser=args.open,
          allow_remote=args.allow_remote, max_upload_bytes=args.max_upload_mb * 1024 * 1024,
          max_pixels=args.max_pixels)
    return 0


# -- batch jobs ----------------------------------------------------------------------------------
def _add_batch_parser(sub, model_options) -> None:
    batch = sub.add_parser(
        "batch", help="dataset-scale jobs: explain a folder, sweep methods x metrics, NormLIME weights (resumable)",
        description="Run a job over INPUTS (a folder, searched recursively; a glob pattern in quotes; a PaddleX "
                    "file list; or several image paths) on this process, local worker processes or Ray. Every "
                    "output is written atomically and recorded in SAVE_DIR/manifest.jsonl: running the same "
                    "command again skips what is finished and redoes missing, corrupt or failed items.",
    )
    jobs = batch.add_subparsers(dest="batch_job", metavar="JOB")

    def job_options(p, default_dir):
        p.add_argument("inputs", nargs="+", metavar="INPUTS", help="a folder, a glob pattern, a file list or images")
        p.add_argument("--save-dir", default=default_dir, metavar="DIR", help=f"output folder (default: {default_dir})")
        p.add_argument("--backend", choices=("serial", "processes", "ray"), default="serial",
                       help="where the items run (default: serial)")
        p.add_argument("--workers", type=_positive_int(1), default=None, metavar="N",
                       help="worker processes / Ray actors (default: the CPUs)")
        p.add_argument("--threads", type=_positive_int(1), default=None, metavar="T",
                       help="CPU threads per worker (default: CPUs // workers; 1 on Ray)")
        p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                       help="join this Ray cluster (e.g. 'auto' or 'ray://head:10001') instead of a local one")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        model_options(p)

    explain = jobs.add_parser("explain", help="explain every image with one method (figure + .npz + gallery)",
                              description="Explain every image of INPUTS with METHOD; writes <key>.<method>.png, "
                                          "<key>.<method>.npz, index.csv and index.html into --save-dir.")
    job_options(explain, "./batch_output")
    explain.add_argument("--method", default="lime", metavar="METHOD", help="an image method (default: lime)")
    explain.add_argument("--seed", type=_positive_int(0), default=0, metavar="S", help="job seed (default: 0)")
    explain.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="a parameter of the method's free function, e.g. num_samples=1000 (repeatable)")

    sweep = jobs.add_parser("sweep", help="score methods x metrics over the images (one table + one figure)",
                            description="Explain every image of INPUTS with each method, score each explanation "
                                        "with each metric; writes sweep.csv, sweep_summary.csv and sweep.png.")
    job_options(sweep, "./sweep_output")
    sweep.add_argument("--methods", type=_names, default="lime,occlusion", metavar="M1,M2",
                       help="image methods (default: lime,occlusion)")
    sweep.add_argument("--metrics", type=_names, default="deletion,insertion", metavar="M1,M2",
                       help="metrics (default: deletion,insertion)")
    sweep.add_argument("--seed", type=_positive_int(0), default=0, metavar="S", help="job seed (default: 0)")
    sweep.add_argument("--set", action="append", default=[], metavar="METHOD.KEY=VALUE",
                       help="a method parameter, e.g. lime.num_samples=500 (repeatable)")
    sweep.add_argument("--metric-set", action="append", default=[], metavar="METRIC.KEY=VALUE",
                       help="a metric parameter, e.g. deletion.steps=20 (repeatable)")

    normlime = jobs.add_parser("normlime", help="NormLIME global weights over the images",
                               description="Compute NormLIME's global weights over INPUTS with the per-image work "
                                           "on the workers; writes --weights-file (for 'normlime --weights-file').")
    job_options(normlime, "./normlime_output")
    normlime.add_argument("--assets-dir", required=True, metavar="DIR", help="prior asset folder (build-prior)")
    normlime.add_argument("--algorithm", choices=("paddlex", "lime_average"), default="paddlex")
    normlime.add_argument("--weights-file", default=None, metavar="FILE",
                          help="default: SAVE_DIR/normlime_weights.npz")
    normlime.add_argument("--seed", type=_positive_int(0), default=0, metavar="S", help="random state (default: 0)")
    normlime.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                          help="a LIME parameter for --algorithm lime_average, e.g. num_samples=500")


def _key_values(items, argument: str, nested: bool = False) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or (nested and "." not in key):
            form = "NAME.KEY=VALUE" if nested else "KEY=VALUE"
            raise ValueError(f"{argument} takes {form}, got {item!r}")
        if nested:
            name, _, key = key.partition(".")
            out.setdefault(name, {})[key.replace("-", "_")] = _literal(value)
        else:
            out[key.replace("-", "_")] = _literal(value)
    return out


def _batch_model(args):
    """A ModelSpec from --model (default: the demo model) and the model flags: it travels to workers."""
    from .batch import ModelSpec
    from .data import ImagePreprocess

    geometry = {k: getattr(args, k) for k in ("resize_short", "crop_size", "mean", "std", "scale")
                if getattr(args, k) is not None}
    overrides: Dict[str, Any] = {}
    if geometry:
        overrides["preprocess"] = ImagePreprocess(**geometry)
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            overrides["labels"] = [line.strip() for line in f if line.strip()]
    if args.weights:
        overrides["weights"] = args.weights
    if args.model is None and overrides:
        raise ValueError("--weights, --labels and the preprocessing flags need --model")
    return ModelSpec(args.model or "demo", overrides)


def _run_batch(args, parser) -> int:
    from . import interpret

    if args.batch_job is None:
        parser.parse_args(["batch", "--help"])
    inputs = args.inputs[0] if len(args.inputs) == 1 else list(args.inputs)
    common = dict(backend=args.backend, workers=args.workers, threads=args.threads, progress=not args.no_progress)
    started_ray = False
    if args.ray_address is not None:
        if args.backend != "ray":
            raise ValueError("--ray-address needs --backend ray")
        import ray

        ray.init(address=args.ray_address)
        started_ray = True
    try:
        model = _batch_model(args)
        if args.batch_job == "explain":
            result = interpret.explain_folder(inputs, model, method=args.method, save_dir=args.save_dir,
                                              seed=args.seed, **common, **_key_values(args.set, "--set"))
            print(f"{result.done} explained, {result.skipped} already done, {result.failed} failed "
                  f"in {result.seconds:.1f} s")
            print(f"gallery: {result.gallery}\nindex: {result.index_csv}\nmanifest: {result.manifest}")
        elif args.batch_job == "sweep":
            result = interpret.evaluate_folder(inputs, model, args.methods, args.metrics, save_dir=args.save_dir,
                                               seed=args.seed, method_params=_key_values(args.set, "--set", True),
                                               metric_params=_key_values(args.metric_set, "--metric-set", True),
                                               **common)
            print(f"{result.done} images scored, {result.skipped} already done, {result.failed} failed")
            for method, per in result.extra["scores"].items():
                print(f"  {method:<12}" + "  ".join(f"{m} {s['mean']:.4f} +- {s['std']:.4f}" for m, s in per.items()))
            print(f"table: {result.extra['table']}\nfigure: {result.extra['figure']}")
        else:
            weights, result = interpret.normlime_weights(inputs, model, args.assets_dir, save_dir=args.save_dir,
                                                         algorithm=args.algorithm, random_state=args.seed,
                                                         lime_params=_key_values(args.set, "--set") or None,
                                                         weights_file=args.weights_file, **common)
            print(f"global weights of {weights.num_images} images: {result.extra['weights_file']} "
                  f"({result.failed} failed)")
        for record in result.failures[:10]:
            print(f"failed: {record['key']}: {record['error']}", file=sys.stderr)
        return 0 if result.failed == 0 else 3
    except RuntimeError as exc:  # a worker that cannot start, a folder locked by another job
        print(f"paddlex-interpret: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\npaddlex-interpret: interrupted; what finished is recorded in {args.save_dir}/manifest.jsonl - "
              f"run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        if started_ray:
            import ray

            ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
