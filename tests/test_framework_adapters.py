"""Adapters for real PaddleX 3, PaddleClas and exported models, built offline: a random-init
PaddleClas architecture is exported into a PaddleX model directory (the layout PaddleX 3
training leaves: best_model/best_model.pdparams + best_model/inference/) and loaded by the real
``paddlex.create_model``; PaddleClas configs are read as PaddleClas's own deploy predictor reads them."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml
from PIL import Image

from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import (GradientsUnavailableError, LabelCountError, PaddleLayerClassifier,
                                      StaticClassifier, as_classifier)
from paddlex_interpret.models.transform_config import TransformConfigError

ARCH = "MobileNetV3_small_x0_35"
LABELS = ["apple", "banana", "cherry"]
NORMALIZE = {"NormalizeImage": {"channel_num": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                "order": "", "scale": 0.00392156862745098}}
# Non-default geometry on purpose (resize 160, crop 128), so parity does not hold by accident.
PADDLEX_OPS = [{"ResizeImage": {"resize_short": 160}}, {"CropImage": {"size": 128}}, NORMALIZE, {"ToCHWImage": None}]


def build_network(seed=0):
    import paddle
    from paddleclas.ppcls.arch.backbone import MobileNetV3_small_x0_35

    paddle.seed(seed)
    net = MobileNetV3_small_x0_35(pretrained=False, class_num=len(LABELS))
    # Random init gives near-uniform outputs; scale the classifier so classes are well separated.
    with paddle.no_grad():
        net.fc.weight.set_value(net.fc.weight * 40)
    net.eval()
    return net


def export(net, prefix, size=128):
    import paddle

    paddle.jit.save(net, str(prefix), input_spec=[paddle.static.InputSpec([None, 3, size, size], "float32", "x")])


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("photo") / "chelsea.jpg"
    Image.fromarray(skimage.data.chelsea()).save(path, quality=95)
    return path


@pytest.fixture(scope="module")
def paddlex_training_output(tmp_path_factory):
    """(network, best_model dir, inference dir) as PaddleX 3 training lays them out."""
    import paddle

    net = build_network()
    best = tmp_path_factory.mktemp("output") / "best_model"
    inference = best / "inference"
    inference.mkdir(parents=True)
    export(net, inference / "inference")
    config = {"Global": {"model_name": ARCH}, "PreProcess": {"transform_ops": PADDLEX_OPS},
              "PostProcess": {"Topk": {"topk": 3, "label_list": LABELS}}}
    (inference / "inference.yml").write_text(yaml.safe_dump(config))
    paddle.save(net.state_dict(), str(best / "best_model.pdparams"))
    return net, best, inference


@pytest.fixture(scope="module")
def paddlex_model(paddlex_training_output):
    from paddlex import create_model

    _, _, inference = paddlex_training_output
    return create_model(model_name=ARCH, model_dir=str(inference))


# --- PaddleX 3 --------------------------------------------------------------------------------

def paddlex_input_tensor(model, path):
    """What PaddleX's own predictor feeds its network for ``path``."""
    pre = model._predictor.preprocessors
    imgs = pre["Read"](imgs=[str(path)])
    for name in ("Resize", "Crop", "Normalize", "ToCHW"):
        if name in pre:
            imgs = pre[name](imgs=imgs)
    return pre["ToBatch"](imgs=imgs)[0]


def test_paddlex3_model_preprocessing_labels_and_top1(paddlex_model, photo):
    clf = as_classifier(paddlex_model)
    assert isinstance(clf, StaticClassifier) and clf.labels == LABELS
    ours = clf.preprocess(clf.image_as_explained(photo)[None])
    theirs = paddlex_input_tensor(paddlex_model, photo)
    assert ours.shape == theirs.shape == (1, 3, 128, 128)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    result = next(iter(paddlex_model.predict(str(photo), topk=3)))
    probs = clf.predict_proba(clf.image_as_explained(photo)[None])[0]
    class_ids = np.ravel(result["class_ids"])
    assert int(np.argmax(probs)) == int(class_ids[0])
    assert clf.label_name(int(class_ids[0])) == np.ravel(result["label_names"])[0]


def test_paddlex_dir_and_create_model_give_the_same_classifier(paddlex_model, paddlex_training_output, photo):
    _, _, inference = paddlex_training_output
    a, b = as_classifier(paddlex_model), as_classifier(str(inference))
    img = a.image_as_explained(photo)[None]
    np.testing.assert_array_equal(a.predict_proba(img), b.predict_proba(img))
    assert a.preprocess == b.preprocess


def test_lime_on_paddlex_model_equals_lime_on_its_dygraph_network(paddlex_model, paddlex_training_output, photo,
                                                                  tmp_path):
    net, _, _ = paddlex_training_output
    preprocess = ImagePreprocess(resize_short=160, crop_size=128)
    kwargs = dict(num_samples=120, batch_size=40, random_state=3, progress=False, save_dir=tmp_path)
    static = interpret.lime(str(photo), paddlex_model, **kwargs)
    dygraph = interpret.lime(str(photo), PaddleLayerClassifier(net, preprocess=preprocess, runner="dygraph"),
                             **kwargs)
    assert static.targets == dygraph.targets
    np.testing.assert_array_equal(static.segments, dygraph.segments)
    for t in static.targets:
        # same samples and seed; only float32 kernel differences between Paddle Inference and dygraph
        np.testing.assert_allclose(static.weights[t], dygraph.weights[t], rtol=1e-3, atol=1e-4)
        assert np.argsort(-static.weights[t])[:5].tolist() == np.argsort(-dygraph.weights[t])[:5].tolist()
    assert (tmp_path / "chelsea_lime_s120.png").is_file()


def test_gradients_come_from_the_training_checkpoint(paddlex_model, paddlex_training_output, photo):
    """PaddleX training leaves best_model.pdparams next to inference/: gradient methods use the
    PaddleClas architecture rebuilt from it, and agree with the original network."""
    net, _, _ = paddlex_training_output
    clf = as_classifier(paddlex_model)
    from paddlex_interpret.engine.gradients import SmoothGrad

    img = clf.image_as_explained(photo)
    ours = SmoothGrad(clf, n_samples=2, random_state=0).attribute(img[None], [0])
    reference = SmoothGrad(PaddleLayerClassifier(net, preprocess=clf.preprocess), n_samples=2,
                           random_state=0).attribute(img[None], [0])
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)


def test_exported_model_without_weights_names_the_gradient_methods(paddlex_training_output, tmp_path, photo):
    _, _, inference = paddlex_training_output
    lone = tmp_path / "inference"
    lone.mkdir()
    for f in inference.iterdir():
        (lone / f.name).write_bytes(f.read_bytes())
    clf = as_classifier(str(lone))
    assert clf.predict_proba(clf.image_as_explained(photo)[None]).shape == (1, 3)
    # occlusion is black-box: it runs on the exported program and agrees with the dygraph network
    net, _, _ = paddlex_training_output
    from paddlex_interpret.engine.perturbation import Occlusion

    img = clf.image_as_explained(photo)[None]
    params = dict(sliding_window_shapes=(32, 32), strides=(32, 32), perturbations_per_eval=8, score="logit",
                  progress=False)
    exported = Occlusion(clf, **params).attribute(img, [1])
    reference = Occlusion(PaddleLayerClassifier(net, preprocess=clf.preprocess, runner="dygraph"),
                          **params).attribute(img, [1])
    assert np.abs(reference).max() > 1e-4
    np.testing.assert_allclose(exported, reference, rtol=1e-3, atol=1e-6)
    with pytest.raises(GradientsUnavailableError, match=r"dygraph.*occlusion.*smoothgrad.*best_model\.pdparams"):
        interpret.smoothgrad(str(photo), clf, save_dir=tmp_path, n_samples=2)


def test_non_classifier_paddlex_dir_and_bad_ops(paddlex_training_output, tmp_path):
    _, _, inference = paddlex_training_output
    for name, post, ops, error in (
        ("det", {"DetPostProcess": {}}, PADDLEX_OPS, r"not an image classifier"),
        ("pil", {"Topk": {"topk": 1, "label_list": LABELS}},
         [{"ResizeImage": {"resize_short": 160, "backend": "pil"}}, NORMALIZE], r"backend 'pil'"),
        ("aug", {"Topk": {"topk": 1, "label_list": LABELS}},
         [{"RandFlipImage": {}}, NORMALIZE], r"'RandFlipImage' is not supported"),
    ):
        folder = tmp_path / name
        folder.mkdir()
        for f in inference.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        config = {"Global": {"model_name": ARCH}, "PreProcess": {"transform_ops": ops}, "PostProcess": post}
        (folder / "inference.yml").write_text(yaml.safe_dump(config))
        with pytest.raises((TransformConfigError, ValueError), match=error):
            as_classifier(str(folder))


# --- exported static models --------------------------------------------------------------------

SMALL_NET = """
import paddle
def small_net():
    return paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 8, 3, stride=2), paddle.nn.BatchNorm2D(8), paddle.nn.ReLU(),
        paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(), paddle.nn.Linear(8, 3))
"""


def test_exported_pir_and_legacy_pdmodel_formats(tmp_path, photo):
    import paddle

    namespace = {}
    exec(SMALL_NET, namespace)
    paddle.seed(5)
    net = namespace["small_net"]()
    net.eval()
    paddle.save(net.state_dict(), str(tmp_path / "w.pdparams"))
    pir = tmp_path / "pir" / "model"
    export(net, pir)
    legacy = tmp_path / "legacy" / "model"
    # The legacy program format is only written with PIR switched off, so export it in a child process.
    code = SMALL_NET + textwrap.dedent(f"""
        net = small_net()
        net.set_state_dict(paddle.load({str(tmp_path / 'w.pdparams')!r}))
        net.eval()
        paddle.jit.save(net, {str(legacy)!r},
                        input_spec=[paddle.static.InputSpec([None, 3, 128, 128], 'float32', 'x')])
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "FLAGS_enable_pir_api": "0"},
                   capture_output=True)
    assert (legacy.parent / "model.pdmodel").is_file() and (pir.parent / "model.json").is_file()
    preprocess = ImagePreprocess(resize_short=160, crop_size=128)
    reference = PaddleLayerClassifier(net, preprocess=preprocess, runner="dygraph")
    img = reference.image_as_explained(photo)[None]
    expected = reference.predict_proba(img)
    for path in (pir, legacy.parent, str(legacy) + ".pdmodel"):
        clf = as_classifier(str(path), preprocess=preprocess, labels=LABELS)
        np.testing.assert_allclose(clf.predict_proba(img), expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(TypeError, match=r"without a PaddleX inference\.yml: give preprocess="):
        as_classifier(str(pir))
    with pytest.raises(LabelCountError, match="labels has 2 names but the network outputs 3"):
        as_classifier(str(pir), preprocess=preprocess, labels=["a", "b"]).num_classes


def test_fast_runner_matches_dygraph_and_follows_weight_changes(photo):
    import paddle

    net = build_network(seed=1)
    preprocess = ImagePreprocess(resize_short=160, crop_size=128)
    fast = PaddleLayerClassifier(net, preprocess=preprocess, runner="inference")
    slow = PaddleLayerClassifier(net, preprocess=preprocess, runner="dygraph")
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(6, 128, 128, 3), dtype=np.uint8)
    np.testing.assert_allclose(fast.predict_proba(imgs, batch_size=4), slow.predict_proba(imgs), atol=1e-5)
    with paddle.no_grad():  # the user keeps training: the exported copy must not go stale
        net.fc.weight.set_value(-net.fc.weight)
    np.testing.assert_allclose(fast.predict_proba(imgs, batch_size=4), slow.predict_proba(imgs), atol=1e-5)


# --- PaddleClas --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paddleclas_config(tmp_path_factory, paddlex_training_output):
    """A PaddleClas config in the layout of ppcls/configs (BGR decode on purpose: channel order
    must come from the config), its class_id_map_file and trained weights."""
    _, best, _ = paddlex_training_output
    folder = tmp_path_factory.mktemp("ppcls")
    (folder / "labels.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(LABELS)))
    transforms = [{"DecodeImage": {"to_rgb": False, "channel_first": False}},
                  {"ResizeImage": {"resize_short": 150, "interpolation": "bicubic"}},
                  {"CropImage": {"size": 128}},
                  {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.406, 0.456, 0.485],
                                      "std": [0.225, 0.224, 0.229], "order": ""}},
                  {"ToCHWImage": None}]
    config = {"Global": {"pretrained_model": None}, "Arch": {"name": ARCH, "class_num": 3},
              "Infer": {"infer_imgs": "x.jpg", "batch_size": 1, "transforms": transforms,
                        "PostProcess": {"name": "Topk", "topk": 3, "class_id_map_file": "labels.txt"}}}
    path = folder / "MobileNetV3_small_x0_35.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, best / "best_model.pdparams", transforms


def test_paddleclas_config_and_weights(paddleclas_config, paddlex_training_output, photo):
    import paddle
    from paddleclas.deploy.python.preprocess import create_operators

    net, _, _ = paddlex_training_output
    config, weights, transforms = paddleclas_config
    clf = as_classifier((str(config), str(weights)))
    assert isinstance(clf, PaddleLayerClassifier) and clf.labels == LABELS
    assert clf.preprocess.channel_order == "bgr" and clf.preprocess.interpolation == "bicubic"
    # PaddleClas's own deploy preprocessing on the file's bytes
    data = photo.read_bytes()
    for op in create_operators(transforms):
        data = op(data)
    ours = clf.preprocess(clf.image_as_explained(photo)[None])[0]
    np.testing.assert_allclose(ours, data, rtol=0, atol=1e-5)
    with paddle.no_grad():
        theirs = net(paddle.to_tensor(data[None])).numpy()[0]
    probs = clf.predict_proba(clf.image_as_explained(photo)[None])[0]
    assert int(np.argmax(probs)) == int(np.argmax(theirs))
    np.testing.assert_allclose(probs, np.exp(theirs - theirs.max()) / np.exp(theirs - theirs.max()).sum(),
                               rtol=1e-4, atol=1e-6)
    # the yaml path with weights= works the same way
    same = as_classifier(str(config), weights=str(weights))
    np.testing.assert_allclose(same.predict_proba(clf.image_as_explained(photo)[None])[0], probs, atol=1e-6)


def test_paddleclas_network_instance_and_bad_weights(paddleclas_config, tmp_path, photo):
    import paddle

    net = build_network(seed=2)
    clf = as_classifier(net, labels=LABELS)
    assert isinstance(clf, PaddleLayerClassifier) and clf.preprocess == ImagePreprocess()
    config, _, _ = paddleclas_config
    bad = tmp_path / "other.pdparams"
    paddle.save({"fc.weight": paddle.zeros([4, 2])}, str(bad))
    with pytest.raises(ValueError, match=r"does not fit MobileNetV3_small_x0_35\(class_num=3\): missing"):
        as_classifier((str(config), str(bad)))
    with pytest.raises(TypeError, match=r"weights only; give the architecture too"):
        as_classifier(str(bad))


def test_unknown_objects_and_overrides_are_named(paddlex_model, tmp_path):
    with pytest.raises(TypeError, match=r"cannot explain a builtins\.dict: expected a paddle\.nn\.Layer"):
        as_classifier({"not": "a model"})
    with pytest.raises(TypeError, match=r"unknown overrides \['resize'\] for a PaddleX model; valid: preprocess"):
        as_classifier(paddlex_model, resize=256)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        as_classifier(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"no exported Paddle model at"):
        as_classifier(str(tmp_path), preprocess=ImagePreprocess())


def test_cli_lime_with_model_paths(paddlex_training_output, paddleclas_config, photo, tmp_path, capsys):
    from paddlex_interpret import cli

    _, _, inference = paddlex_training_output
    config, weights, _ = paddleclas_config
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    runs = {
        "paddlex": ["--model", str(inference)],
        "paddleclas": ["--model", str(config), "--weights", str(weights)],
        "exported": ["--model", str(inference / "inference"), "--resize-short", "160", "--crop-size", "128",
                     "--labels", str(tmp_path / "labels.txt")],
    }
    for name, options in runs.items():
        out = tmp_path / "runs" / name
        code = cli.main(["lime", str(photo), "--num-samples", "30", "--batch-size", "30", "--no-progress",
                         "--save-dir", str(out), *options])
        printed = capsys.readouterr()
        assert code == 0, printed.err
        assert [p.name for p in out.iterdir()] == ["chelsea_lime_s30.png"]
        assert any(label in printed.out for label in LABELS)  # label names reached the report
    code = cli.main(["lime", str(photo), "--model", str(inference / "inference"), "--save-dir", str(tmp_path / "x")])
    assert code == 1 and "give preprocess=" in capsys.readouterr().err


def test_corrupt_model_files_give_named_errors(paddlex_training_output, tmp_path):
    """A truncated .pdiparams, a garbled program and unreadable YAML: clear errors naming the file,
    never a crash inside Paddle."""
    from paddlex_interpret.models.inference_runner import StaticModelError
    from paddlex_interpret.models.paddlex3 import PaddleXModelError

    _, _, inference = paddlex_training_output

    def copy_to(name):
        folder = tmp_path / name
        folder.mkdir()
        for f in inference.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        return folder

    params = copy_to("params") / "inference.pdiparams"
    params.write_bytes(params.read_bytes()[: params.stat().st_size // 2])
    with pytest.raises(StaticModelError, match=r"could not load .*inference\.json"):
        as_classifier(str(params.parent))
    program = copy_to("program") / "inference.json"
    program.write_text('{"not": "a program"')
    with pytest.raises(StaticModelError, match=r"could not load .*inference\.json"):
        as_classifier(str(program.parent))
    config = copy_to("config") / "inference.yml"
    config.write_text("PreProcess: [unclosed\n")
    with pytest.raises(PaddleXModelError, match=r"inference\.yml' is not valid YAML"):
        as_classifier(str(config.parent))
