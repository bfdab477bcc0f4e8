"""Explain right after a real PaddleX 3 training: PP-LCNet_x0_25 trained by PaddleX's own trainer
(``paddlex.modules.build_trainer(config).train()``, which runs PaddleClas's ``tools/train.py``) on
digits images in PaddleX's image-classification dataset layout, then the training output folder is
handed to ``interpret.*`` as it is. A last test, which runs everywhere, rebuilds the part of that
folder's layout the adapter reads (PaddleX's model name in ``inference.yml``, PaddleClas's
architecture name in ``config.yaml``) without training.

PaddleX 3 trains image classifiers through its PaddleClas plugin: a PaddleClas source checkout
that ``paddlex --install PaddleClas`` clones into ``paddlex/repo_manager/repos/PaddleClas`` and
whose path PaddleX reads from ``PADDLE_PDX_PADDLECLAS_PATH``. The pip wheel ``paddleclas`` has no
``tools/train.py`` nor ``ppcls.engine``, so these tests need such a checkout: set
``PADDLE_PDX_PADDLECLAS_PATH`` to its root (the folder with ``ppcls/`` and ``tools/``), or put that
root on ``PYTHONPATH``; ``visualdl`` must be importable (PaddleX turns VisualDL logging on; ``pip
install --no-deps visualdl`` is enough). No network is used: no pretrained weights, the training
starts from random initialisation. Checked with PaddleX 3.7.2, PaddleClas commit d178931
(2024-10-18) and Paddle 3.3.1 on CPU. Without the checkout the training tests are skipped.
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest


def _paddleclas_checkout():
    """The root of a PaddleClas source checkout usable as PaddleX's plugin, or None."""
    candidates = [os.environ.get("PADDLE_PDX_PADDLECLAS_PATH")]
    spec = importlib.util.find_spec("ppcls")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(os.path.dirname(list(spec.submodule_search_locations)[0]))
    paddlex_spec = importlib.util.find_spec("paddlex")
    if paddlex_spec is not None and paddlex_spec.origin:  # where `paddlex --install PaddleClas` puts it
        candidates.append(os.path.join(os.path.dirname(paddlex_spec.origin), "repo_manager", "repos", "PaddleClas"))
    for root in candidates:
        if root and os.path.isfile(os.path.join(root, "tools", "train.py")) and os.path.isfile(
                os.path.join(root, "ppcls", "engine", "engine.py")):
            return os.path.abspath(root)
    return None


def _why_no_training():
    """None when PaddleX 3 can train here, else the reason."""
    if importlib.util.find_spec("paddlex") is None:
        return "needs paddlex (PaddleX 3)"
    if CHECKOUT is None:
        return ("needs PaddleX's PaddleClas plugin: a PaddleClas source checkout (ppcls/ and tools/train.py; not in "
                "the pip wheel 'paddleclas') named by PADDLE_PDX_PADDLECLAS_PATH or on PYTHONPATH")
    if importlib.util.find_spec("visualdl") is None:
        return "needs visualdl (PaddleX trains with VisualDL logging on): pip install --no-deps visualdl"
    return None


CHECKOUT = _paddleclas_checkout()

from paddlex_interpret import interpret  # noqa: E402
from paddlex_interpret.models import StaticClassifier, as_classifier  # noqa: E402

MODEL = "PP-LCNet_x0_25"
NUM_TRAIN, NUM_VAL = 150, 30
EPOCHS = 12
LR = 0.05
LABELS = [f"digit_{k}" for k in range(10)]

# Runs in a child process: PaddleX registers its model suites in module globals and reads
# PADDLE_PDX_PADDLECLAS_PATH when the suite module is imported.
_TRAIN = textwrap.dedent("""
    import sys
    from paddlex.utils.config import AttrDict
    import paddlex.repo_apis.PaddleClas_api  # registers the Cls suite, as repo_manager.initialize() does
    from paddlex.modules import build_trainer

    def attr(x):
        if not isinstance(x, dict):
            return x
        out = AttrDict()
        for k, v in x.items():
            out[k] = attr(v)
        return out

    dataset_dir, output, basic_config, epochs = sys.argv[1:5]
    config = attr({
        "Global": {"model": "%s", "mode": "train", "dataset_dir": dataset_dir, "device": "cpu", "output": output},
        "Train": {"num_classes": 10, "epochs_iters": int(epochs), "batch_size": 25, "learning_rate": %s,
                  "pretrain_weight_path": None, "warmup_steps": 0, "resume_path": None, "log_interval": 1,
                  "eval_interval": 4, "save_interval": int(epochs), "basic_config_path": basic_config},
        "Evaluate": {},
    })
    build_trainer(config).train()
""" % (MODEL, LR))


def _write_dataset(root):
    """PaddleX's image-classification layout: images/, train.txt, val.txt (``<path> <class>``), label.txt."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    os.makedirs(os.path.join(root, "images"))
    rows = []
    for i in range(NUM_TRAIN + NUM_VAL):
        pixels = (digits.images[i] / 16.0 * 255.0).astype(np.uint8)
        # 24x24 on disk, resized to 32x32 by the transforms: the resize is part of what is compared
        Image.fromarray(np.stack([pixels] * 3, -1)).resize((24, 24), Image.BILINEAR).save(
            os.path.join(root, "images", f"{i}.png"))
        rows.append(f"images/{i}.png {int(digits.target[i])}")
    with open(os.path.join(root, "train.txt"), "w") as f:
        f.write("\n".join(rows[:NUM_TRAIN]) + "\n")
    with open(os.path.join(root, "val.txt"), "w") as f:
        f.write("\n".join(rows[NUM_TRAIN:]) + "\n")
    with open(os.path.join(root, "label.txt"), "w") as f:
        f.write("\n".join(f"{k} {name}" for k, name in enumerate(LABELS)) + "\n")
    val = [os.path.join(root, "images", f"{i}.png") for i in range(NUM_TRAIN, NUM_TRAIN + NUM_VAL)]
    return val, digits.target[NUM_TRAIN:NUM_TRAIN + NUM_VAL]


def _basic_config(path):
    """PaddleClas's own PPLCNet_x0_25.yaml, shrunk for 32x32 digits on CPU (no augmentation, no label
    smoothing, no worker processes). PaddleX fills in the dataset, classes, epochs, lr and output."""
    import yaml

    with open(os.path.join(CHECKOUT, "ppcls", "configs", "ImageNet", "PPLCNet", "PPLCNet_x0_25.yaml")) as f:
        config = yaml.safe_load(f)
    decode = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
    resize = {"ResizeImage": {"size": 32}}
    normalize = {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.5] * 3, "std": [0.5] * 3, "order": ""}}
    config["Global"].update(image_shape=[3, 32, 32], seed=0)
    config["Loss"]["Train"] = [{"CELoss": {"weight": 1.0}}]
    config["Optimizer"]["lr"] = {"name": "Cosine", "learning_rate": LR}
    for split in ("Train", "Eval"):
        config["DataLoader"][split]["dataset"]["transform_ops"] = [decode, resize, normalize]
        config["DataLoader"][split]["loader"] = {"num_workers": 0, "use_shared_memory": False}
    config["Infer"]["transforms"] = [decode, resize, normalize, {"ToCHWImage": None}]
    with open(path, "w") as f:
        yaml.safe_dump(config, f)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    reason = _why_no_training()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("paddlex3_train")
    dataset = root / "dataset"
    val_files, val_labels = _write_dataset(str(dataset))
    _basic_config(str(root / "basic.yaml"))
    output = root / "output"
    env = dict(os.environ, PADDLE_PDX_PADDLECLAS_PATH=CHECKOUT)
    run = subprocess.run([sys.executable, "-c", _TRAIN, str(dataset), str(output), str(root / "basic.yaml"),
                          str(EPOCHS)], env=env, cwd=str(root), capture_output=True, text=True, timeout=900)
    if run.returncode != 0:  # the plugin is there, so a failed training is a failure, not a skip
        pytest.fail(f"PaddleX training failed ({run.returncode}):\n{(run.stdout + run.stderr)[-4000:]}")
    return output, val_files, val_labels


def test_the_training_output_folder_is_the_model(trained):
    output, val_files, val_labels = trained
    with open(output / "train_results.json") as f:
        best = json.load(f)["models"]["best"]
    clf = as_classifier(str(output))
    assert isinstance(clf, StaticClassifier)
    # the exported best model named by train_results.json, with PaddleX's labels and the trained weights
    assert os.path.dirname(clf.model_file) == str(output / os.path.dirname(best["inference_config"]))
    assert clf.labels == LABELS
    assert clf.gradients_unavailable() is None  # the dygraph twin was rebuilt from best_model.pdparams
    images = np.stack([clf.image_as_explained(p) for p in val_files])
    assert images.shape == (NUM_VAL, 32, 32, 3)  # the image as explained: resized as the model sees it
    probs = clf.predict_proba(images)
    # known answer: PaddleClas's eval top-1 of the best epoch, recomputed through our preprocessing
    accuracy = float(np.mean(np.argmax(probs, 1) == val_labels))
    assert accuracy == pytest.approx(best["score"], abs=1e-6)
    assert accuracy >= 0.2  # it learned something (chance is 0.1; 0.37 measured)
    # the dygraph twin (gradients) computes what the exported program computes
    twin = clf.clone()
    np.testing.assert_allclose(twin.predict_proba(images), probs, rtol=0, atol=1e-4)


def test_scores_equal_paddlex_own_predictor(trained):
    from paddlex import create_model

    output, val_files, _ = trained
    clf = as_classifier(str(output))
    predictor = create_model(model_name=MODEL, model_dir=os.path.dirname(clf.model_file))
    for path in val_files[:5]:
        result = next(iter(predictor.predict(path, topk=10)))
        theirs = np.zeros(10)
        theirs[np.ravel(result["class_ids"]).astype(int)] = np.ravel(result["scores"])
        ours = clf.predict_proba(clf.image_as_explained(path)[None])[0]
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
        assert clf.label_name(int(np.argmax(ours))) == np.ravel(result["label_names"])[0]


def test_lime_and_intgrad_run_on_the_folder(trained, tmp_path):
    output, val_files, _ = trained
    clf = as_classifier(str(output))
    image = val_files[0]
    top1 = int(np.argmax(clf.predict_proba(clf.image_as_explained(image)[None])[0]))

    lime = interpret.lime(image, str(output), num_samples=200, batch_size=50, random_state=0, progress=False,
                          save_dir=tmp_path)
    assert lime.targets == [top1]
    assert lime.label_names[top1] == LABELS[top1]
    assert lime.segments.shape == (32, 32)
    assert np.abs(lime.weights[top1]).max() > 0
    assert os.path.isfile(tmp_path / f"{NUM_TRAIN}_lime_s200.png")

    ig = interpret.intgrad(image, str(output), steps=200, gradient_of="logit", save_dir=tmp_path)
    assert ig.target == top1 and ig.attribution.shape == (3, 32, 32)
    # completeness (an axiom of IG): the attributions add up to logit(image) - logit(zero baseline)
    from paddlex_interpret.engine.gradients._core import input_gradients

    x = clf.preprocess(clf.image_as_explained(image)[None])
    _, f_x = input_gradients(clf, x, [top1], "logit")
    _, f_b = input_gradients(clf, np.zeros_like(x), [top1], "logit")
    gap = float(f_x[0] - f_b[0])
    assert abs(gap) > 0.5
    assert abs(float(ig.attribution.astype(np.float64).sum()) - gap) <= 0.02 * abs(gap)
    assert any(name.startswith(f"{NUM_TRAIN}_intgrad") for name in os.listdir(tmp_path))


def _training_layout(root, pdx_model_name):
    """What PaddleX 3 training leaves, written by hand: ``config.yaml`` (the PaddleClas config, with
    ``Global.pdx_model_name``), ``best_model/best_model.pdparams`` and ``best_model/inference/``
    (whose ``inference.yml`` names the model by PaddleX's name), for a random-init PPLCNet_x0_25."""
    import paddle
    import yaml
    from paddleclas.ppcls.arch.backbone import PPLCNet_x0_25

    paddle.seed(1)
    net = PPLCNet_x0_25(pretrained=False, class_num=len(LABELS))
    with paddle.no_grad():  # random init leaves features near 1e-8: a random bias makes the classes differ
        net.fc.bias.set_value(paddle.to_tensor(np.random.default_rng(1).normal(0, 2, len(LABELS)), "float32"))
    net.eval()
    inference = root / "best_model" / "inference"
    inference.mkdir(parents=True)
    paddle.jit.save(net, str(inference / "inference"),
                    input_spec=[paddle.static.InputSpec([None, 3, 32, 32], "float32", "x")])
    paddle.save(net.state_dict(), str(root / "best_model" / "best_model.pdparams"))
    ops = [{"ResizeImage": {"size": 32}},
           {"NormalizeImage": {"mean": [0.5] * 3, "std": [0.5] * 3, "scale": 1 / 255.0, "order": ""}},
           {"ToCHWImage": None}]
    (inference / "inference.yml").write_text(yaml.safe_dump(
        {"Global": {"model_name": MODEL}, "PreProcess": {"transform_ops": ops},
         "PostProcess": {"Topk": {"topk": 5, "label_list": LABELS}}}))
    (root / "config.yaml").write_text(yaml.safe_dump(
        {"Global": {"pdx_model_name": pdx_model_name}, "Arch": {"name": "PPLCNet_x0_25", "class_num": 10}}))
    return net


def test_paddlex_model_name_is_mapped_to_the_paddleclas_architecture(tmp_path):
    """inference.yml says ``PP-LCNet_x0_25`` (PaddleX's name), PaddleClas builds ``PPLCNet_x0_25``: the
    training folder's config.yaml bridges the two, and only when it belongs to that model."""
    pytest.importorskip("paddleclas.ppcls.arch.backbone", reason="needs the paddleclas wheel (architectures)")
    import warnings

    net = _training_layout(tmp_path / "ok", pdx_model_name=MODEL)
    clf = as_classifier(str(tmp_path / "ok"))
    assert clf.gradients_unavailable() is None
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    probs = clf.predict_proba(images)
    assert probs.max(1).min() > 0.2  # not uniform: a twin with other (random) weights would differ
    np.testing.assert_allclose(clf.clone().predict_proba(images), probs, rtol=0, atol=1e-5)
    from paddlex_interpret.models import PaddleLayerClassifier

    reference = PaddleLayerClassifier(net, preprocess=clf.preprocess, runner="dygraph").predict_proba(images)
    np.testing.assert_allclose(probs, reference, rtol=0, atol=1e-5)

    # a config.yaml of another model is not read as this one's: the weights are reported, not loaded
    _training_layout(tmp_path / "other", pdx_model_name="PP-LCNet_x1_0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        other = as_classifier(str(tmp_path / "other"))
    assert other.gradients_unavailable() is not None
    assert any("no architecture 'PP-LCNet_x0_25'" in str(w.message) and "PPLCNet_x0_25" in str(w.message)
               for w in caught)
