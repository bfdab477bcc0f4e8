"""The task API ``interpret.lime``: files written, bad input, and the user's model left as it was."""
import os

import numpy as np
import paddle
import pytest
from PIL import Image

from conftest import RegionScoreNet, SmallCNN, block_bounds, grid_segments
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import PaddleLayerClassifier, as_classifier


def run(img, model, **kw):
    kw.setdefault("num_samples", 40)
    kw.setdefault("batch_size", 20)
    kw.setdefault("random_state", 0)
    kw.setdefault("progress", False)
    return interpret.lime(img, model, **kw)


@pytest.fixture
def mosaic_file(mosaic, tmp_path):
    path = tmp_path / "mosaic.png"
    Image.fromarray(mosaic).save(path)
    return path


def test_writes_only_the_paddlex_named_figure(region_classifier, mosaic_file, tmp_path):
    save_dir = tmp_path / "new" / "figures"
    before = set(tmp_path.rglob("*"))
    exp = run(mosaic_file, region_classifier, save_dir=save_dir)
    written = set(tmp_path.rglob("*")) - before
    assert written == {tmp_path / "new", save_dir, save_dir / "mosaic_lime_s40.png"}
    assert exp.figure_path == str(save_dir / "mosaic_lime_s40.png")
    chosen = run(mosaic_file, region_classifier, save_dir=save_dir, target=0)  # does not replace the top-1 figure
    assert chosen.figure_path == str(save_dir / "mosaic_lime_s40_class0.png")
    with Image.open(exp.figure_path) as fig:
        assert fig.format == "PNG" and fig.size == (2000, 800)  # 25 x 10 inches
    assert run(mosaic_file, region_classifier, save_dir=None).figure_path is None


def test_array_input_is_named_image(region_classifier, mosaic, tmp_path):
    exp = run(mosaic, region_classifier, save_dir=tmp_path)
    assert os.path.basename(exp.figure_path) == "image_lime_s40.png"


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"num_samples": 1}, ValueError, "num_samples must be >= 2"),
    ({"num_samples": 2.5}, TypeError, "num_samples must be an int"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"target": 2}, ValueError, r"target=2 is out of range: the model has 2 classes \(valid: 0..1\)"),
    ({"target": -1}, ValueError, "target=-1 is out of range"),
    ({"top_k": 3}, ValueError, r"top_k=3 exceeds the number of classes \(2\)"),
    ({"hide_color": "blue"}, ValueError, "hide_color must be"),
    ({"hide_color": 300}, ValueError, "hide_color must be"),
    ({"kernel_width": 0}, ValueError, "kernel_width must be a positive number"),
    ({"feature_selection": "lasso"}, ValueError, "feature_selection must be one of"),
    ({"random_state": "seed"}, TypeError, "random_state must be an int"),
])
def test_bad_arguments_name_themselves(region_classifier, mosaic, tmp_path, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        run(mosaic, region_classifier, save_dir=tmp_path / "out", **kwargs)
    assert not any((tmp_path / "out").glob("*.png"))


def test_bad_files(region_classifier, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        run(tmp_path / "missing.jpg", region_classifier, save_dir=tmp_path)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="cannot read image .*corrupt.png"):
        run(corrupt, region_classifier, save_dir=tmp_path)
    target = tmp_path / "a_file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="a_file"):
        run(np.zeros((8, 8, 3), np.uint8), region_classifier, save_dir=target)


def test_odd_images_give_results(region_classifier, mosaic, tmp_path):
    # 1x1 image: enlarged to a flat image; a valid explanation whose top superpixel covers the region
    one = tmp_path / "one.png"
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(one)
    pre = ImagePreprocess(resize_short=None, crop_size=64)
    clf = PaddleLayerClassifier(RegionScoreNet(*block_bounds(6)), preprocess=pre)
    exp = run(one, clf, save_dir=tmp_path, target=1)
    assert np.all(np.isfinite(exp.weights[1]))
    (r0, r1), (c0, c1) = block_bounds(6)
    assert exp.ranked_superpixels(1)[0] in np.unique(exp.segments[r0:r1, c0:c1])
    assert os.path.isfile(exp.figure_path)
    # RGBA and grayscale files: same explanation as their RGB equivalents
    Image.fromarray(np.dstack([mosaic, np.full(mosaic.shape[:2], 128, np.uint8)]), "RGBA").save(tmp_path / "rgba.png")
    ref = run(mosaic, region_classifier, save_dir=None, target=1, segmentation=grid_segments)
    rgba = run(tmp_path / "rgba.png", region_classifier, save_dir=None, target=1, segmentation=grid_segments)
    np.testing.assert_array_equal(rgba.weights[1], ref.weights[1])
    gray = mosaic.mean(axis=2).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    g = run(tmp_path / "gray.png", region_classifier, save_dir=tmp_path, target=1, segmentation=grid_segments)
    assert g.image.shape == (64, 64, 3) and g.ranked_superpixels(1)[0] == 6


def test_model_left_as_it_was(mosaic, tmp_path):
    net = SmallCNN()
    net.train()
    net.features[1].eval()  # a mixed state must survive too
    modes = [(name, layer.training) for name, layer in net.named_sublayers(include_self=True)]
    params = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    device = paddle.get_device()
    exp = run(mosaic, PaddleLayerClassifier(net, preprocess=ImagePreprocess(None, None)), save_dir=tmp_path)
    assert exp.targets
    assert [(name, layer.training) for name, layer in net.named_sublayers(include_self=True)] == modes
    for k, v in net.state_dict().items():  # BatchNorm statistics included
        np.testing.assert_array_equal(v.numpy(), params[k])
    for layer in net.sublayers(include_self=True):
        assert not layer._forward_pre_hooks and not layer._forward_post_hooks
    assert paddle.get_device() == device and paddle.in_dynamic_mode()


def test_dropout_is_off_while_explaining(mosaic):
    net = SmallCNN()
    net.train()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(None, None))
    a = clf.predict_proba(np.stack([mosaic] * 4))
    np.testing.assert_allclose(a[0], a[3], rtol=1e-5)  # dropout (p=0.5) in train mode would make rows differ
    assert net.training


def test_as_classifier_accepts_layers_and_rejects_others(small_cnn):
    clf = as_classifier(small_cnn, labels=list("abcde"))
    assert isinstance(clf, PaddleLayerClassifier) and clf.label_name(4) == "e"
    assert as_classifier(clf) is clf
    with pytest.raises(TypeError, match=r"cannot explain a builtins\.object: expected a paddle\.nn\.Layer image classifier.*or a paddlex_interpret Classifier"):
        as_classifier(object())
    with pytest.raises(TypeError, match="unknown overrides.*valid: labels, output, preprocess"):
        as_classifier(small_cnn, transforms=None)
    with pytest.raises(TypeError, match="already a Classifier"):
        as_classifier(clf, labels=["x"])
    with pytest.raises(ValueError, match="labels has 2 names but the network outputs 5 classes"):
        as_classifier(small_cnn, labels=["a", "b"]).num_classes


def test_probability_outputs_are_not_softmaxed_twice(mosaic):
    class ProbNet(paddle.nn.Layer):
        def forward(self, x):
            m = paddle.nn.functional.sigmoid(x.mean(axis=[1, 2, 3]))
            return paddle.stack([m, 1 - m], axis=1)

    clf = PaddleLayerClassifier(ProbNet(), preprocess=ImagePreprocess(None, None))
    p = clf.predict_proba(mosaic[None])
    assert clf.outputs_probabilities
    x = ImagePreprocess(None, None)(mosaic[None]).mean()
    np.testing.assert_allclose(p[0, 0], 1 / (1 + np.exp(-x)), rtol=1e-5)
