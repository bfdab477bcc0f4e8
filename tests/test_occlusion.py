"""Occlusion: definition (against a naive loop), known answers, batching invariance, baselines, errors."""
import json

import numpy as np
import paddle
import pytest

from conftest import block_bounds
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.explanation import PixelExplanation
from paddlex_interpret.engine.perturbation import Occlusion
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.models import eval_mode

RAW = ImagePreprocess(resize_short=None, crop_size=None)


@pytest.fixture
def cnn_classifier(small_cnn):
    return PaddleLayerClassifier(small_cnn, preprocess=RAW)


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)


def naive_occlusion(classifier, image, target, window, starts_h, starts_w, base):
    """One window at a time with plain slicing: the definition, written independently."""
    x = classifier.preprocess(image[None])[0]
    net = classifier.network

    def prob(inp):
        with paddle.no_grad(), eval_mode(net):
            out = net(paddle.to_tensor(inp[None].astype(np.float32)))
        return float(paddle.nn.functional.softmax(out, axis=1)[0, target])

    p0 = prob(x)
    total, count = np.zeros_like(x, dtype=np.float64), np.zeros_like(x, dtype=np.float64)
    for h0 in starts_h:
        for w0 in starts_w:
            occ = x.copy()
            occ[:, h0:h0 + window, w0:w0 + window] = base[:, h0:h0 + window, w0:w0 + window]
            total[:, h0:h0 + window, w0:w0 + window] += p0 - prob(occ)
            count[:, h0:h0 + window, w0:w0 + window] += 1
    return total / count


def test_matches_naive_definition_with_edge_window(cnn_classifier, images):
    # 32 px, window 8, stride 5: grid 0,5,10,15,20 plus a window flush with the edge at 24.
    attr = Occlusion(cnn_classifier, (3, 8, 8), strides=5, perturbations_per_eval=7,
                     progress=False).attribute(images, [1, 3])
    assert attr.shape == (2, 3, 32, 32) and attr.dtype == np.float32
    starts = [0, 5, 10, 15, 20, 24]
    zero = np.zeros((3, 32, 32), dtype=np.float32)
    for i, target in enumerate([1, 3]):
        ref = naive_occlusion(cnn_classifier, images[i], target, 8, starts, starts, zero)
        np.testing.assert_allclose(attr[i], ref, rtol=1e-4, atol=1e-6)
    assert cnn_classifier.network.training is True  # the fixture's train mode is restored


def test_identical_for_every_perturbations_per_eval(cnn_classifier, images):
    results = [Occlusion(cnn_classifier, (3, 8, 8), strides=4, perturbations_per_eval=k,
                         progress=False).attribute(images, [0, 2]) for k in (1, 5, 64)]
    assert np.abs(results[0]).max() > 0
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-5, atol=1e-7)


def test_region_known_answer_support(region_classifier, mosaic):
    """Class 1 reads only block 6 (rows 16-32, cols 32-48): attribution lives exactly on the union of
    windows that overlap it: windows of 8 at stride 4 starting at 12..28 -> rows 12-36, cols 28-52."""
    attr = Occlusion(region_classifier, (3, 8, 8), strides=4, progress=False).attribute(mosaic, 1)[0]
    expected = np.zeros(attr.shape, dtype=bool)
    expected[:, 12:36, 28:52] = True
    assert np.all(attr[expected] != 0)  # hiding any part of the region changes class 1
    assert np.all(attr[~expected] == 0)


def test_region_known_answer_values(region_classifier, mosaic):
    """Non-overlapping 16 px windows = the mosaic blocks: only block 6's window changes the logit,
    by gain * mean(region) with a 0 baseline; with a pixel-space baseline by the difference of means."""
    (r0, r1), (c0, c1) = block_bounds(6)
    x = region_classifier.preprocess(mosaic[None])[0]
    attr = Occlusion(region_classifier, (3, 16, 16), strides=16, score="logit",
                     progress=False).attribute(mosaic, 1)[0]
    expected = np.zeros_like(attr)
    expected[:, r0:r1, c0:c1] = 1.5 * x[:, r0:r1, c0:c1].mean()
    np.testing.assert_allclose(attr, expected, rtol=1e-4)

    grey = Occlusion(region_classifier, (16, 16), strides=16, score="logit", baselines=200,
                     progress=False).attribute(mosaic, 1)[0]
    b = region_classifier.preprocess(np.full((1, 64, 64, 3), 200, dtype=np.uint8))[0]
    expected[:, r0:r1, c0:c1] = 1.5 * (x[:, r0:r1, c0:c1].mean() - b[:, r0:r1, c0:c1].mean())
    np.testing.assert_allclose(grey, expected, rtol=1e-4, atol=1e-6)


def test_baselines(cnn_classifier, images):
    def run(baselines):
        return Occlusion(cnn_classifier, (3, 16, 16), strides=8, baselines=baselines,
                         progress=False).attribute(images, 1)

    grey = run(127)
    np.testing.assert_array_equal(grey, run(np.full((32, 32, 3), 127, dtype=np.uint8)))
    np.testing.assert_array_equal(grey, run(np.full((2, 32, 32, 3), 127, dtype=np.uint8)))
    assert not np.allclose(grey, run(None))
    # Occluding with the image itself changes nothing.
    np.testing.assert_array_equal(run(images), 0)


def test_channel_windows_and_explain(cnn_classifier, images):
    occ = Occlusion(cnn_classifier, (1, 16, 16), strides=(1, 16, 16), progress=False)
    attr = occ.attribute(images[:1], 0)[0]
    assert attr.shape == (3, 32, 32)
    assert not np.allclose(attr[0], attr[1])  # each channel hidden on its own
    exp = occ.explain(images[0], target=0)
    assert isinstance(exp, PixelExplanation) and exp.method == "occlusion" and exp.target == 0
    np.testing.assert_allclose(exp.attribution, attr, rtol=1e-5, atol=1e-7)
    json.dumps(exp.params)
    assert exp.params["sliding_window_shapes"] == [1, 16, 16] and exp.params["strides"] == [1, 16, 16]


def test_model_untouched(cnn_classifier, images):
    net = cnn_classifier.network
    net.train()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    Occlusion(cnn_classifier, (3, 16, 16), strides=16, progress=False).attribute(images, 0)
    assert all(layer.training for layer in net.sublayers(include_self=True))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sliding_window_shapes=(3, 8, 8), strides=9), ValueError, "never be occluded"),
    (dict(sliding_window_shapes=(3, 64, 64)), ValueError, "larger than the input"),
    (dict(sliding_window_shapes=8), TypeError, "sliding_window_shapes"),
    (dict(strides=0), ValueError, "strides"),
    (dict(score="loss"), ValueError, "score"),
    (dict(baselines=300), ValueError, "0..255"),
    (dict(baselines=np.zeros((32, 32, 3), dtype=np.float32)), ValueError, "uint8"),
    (dict(baselines=np.zeros((16, 16, 3), dtype=np.uint8)), ValueError, "do not match"),
    (dict(perturbations_per_eval=0), ValueError, "perturbations_per_eval"),
])
def test_bad_arguments(cnn_classifier, images, kwargs, error, match):
    with pytest.raises(error, match=match):
        Occlusion(cnn_classifier, progress=False, **kwargs).attribute(images, 0)


def test_batch_size_is_the_same_knob_as_perturbations_per_eval(cnn_classifier, images):
    by_name = Occlusion(cnn_classifier, (3, 8, 8), strides=8, batch_size=5, progress=False)
    by_interpretdl = Occlusion(cnn_classifier, (3, 8, 8), strides=8, perturbations_per_eval=5, progress=False)
    assert by_name.params()["batch_size"] == by_interpretdl.params()["perturbations_per_eval"] == 5
    np.testing.assert_allclose(by_name.attribute(images, 1), by_interpretdl.attribute(images, 1), rtol=1e-6,
                               atol=1e-8)
    assert Occlusion(cnn_classifier, batch_size=3, perturbations_per_eval=3).perturbations_per_eval == 3
    with pytest.raises(ValueError, match="name the same knob; give one of them"):
        Occlusion(cnn_classifier, batch_size=2, perturbations_per_eval=3)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        Occlusion(cnn_classifier, batch_size=2.0)
