"""Grad-CAM and Score-CAM: hand computations, the default layer, the real demo model, hook hygiene."""
import cv2
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from PIL import Image
from pathlib import Path

from conftest import RegionScoreNet, SmallCNN
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.cam import GradCAM, ScoreCAM, default_target_layer
from paddlex_interpret.models import PaddleLayerClassifier

RAW = ImagePreprocess(resize_short=None, crop_size=None)
CAT_MASK = Path(__file__).parent / "data" / "chelsea_cat_mask.png"


@pytest.fixture
def cnn_classifier(small_cnn):
    return PaddleLayerClassifier(small_cnn, preprocess=RAW)


@pytest.fixture
def images():
    return np.random.default_rng(1).integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def chelsea(demo_model, demo_images):
    image = demo_model.image_as_explained(demo_images["chelsea"])
    mask = np.asarray(Image.open(CAT_MASK)) > 127
    assert image.shape == (224, 224, 3) and mask.shape == (224, 224)
    return image, mask


def split_forward(x, upto):
    """SmallCNN (eval mode, same seeded weights) run by hand: features after ``features[:upto]``, logits."""
    net = SmallCNN()
    net.eval()
    layers = list(net.features.children())
    a = paddle.to_tensor(x)
    for layer in layers[:upto]:
        a = layer(a)
    features = a
    for layer in layers[upto:]:
        a = layer(a)
    return features, net.fc(a.mean(axis=[2, 3]))  # dropout is the identity in eval


def resize(maps, size):
    """Bilinear resize with OpenCV (half-pixel centres), independent of the implementation."""
    return np.stack([cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for m in maps])


def assert_model_untouched(net, before, training=True):
    for layer in net.sublayers(include_self=True):
        assert not layer._forward_post_hooks and not layer._forward_pre_hooks, layer
        assert layer.training is training
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    assert all(p.grad is None for p in net.parameters())


def snapshot(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


# -- Grad-CAM ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, upto", [("features", 6), ("features.4", 5)])
@pytest.mark.parametrize("gradient_of", ["logit", "probability"])
def test_gradcam_equals_hand_computation(cnn_classifier, images, layer, upto, gradient_of):
    targets = [1, 4]
    x = cnn_classifier.preprocess(images)
    features, logits = split_forward(x, upto)
    scores = logits if gradient_of == "logit" else F.softmax(logits, axis=1)
    chosen = paddle.stack([scores[i, t] for i, t in enumerate(targets)])
    (grads,) = paddle.grad(chosen.sum(), [features])
    weights = grads.numpy().mean(axis=(2, 3))
    expected = np.maximum((weights[:, :, None, None] * features.numpy()).sum(axis=1), 0)

    cam = GradCAM(cnn_classifier, target_layer=layer, gradient_of=gradient_of)
    full = cam.attribute(images, targets)
    assert cam.last_lowres.shape == (2, 16, 16) and full.shape == (2, 32, 32)
    assert expected.max() > 0
    np.testing.assert_allclose(cam.last_lowres, expected, rtol=1e-4, atol=1e-5 * expected.max())
    np.testing.assert_allclose(cam.attribute_lowres(images, targets), cam.last_lowres, rtol=1e-6)
    np.testing.assert_allclose(full, resize(expected, (32, 32)), rtol=1e-4, atol=1e-5 * expected.max())
    assert cam.params() == {"target_layer": layer, "gradient_of": gradient_of}


def test_gradcam_explain_and_frozen_parameters(cnn_classifier, images):
    for p in cnn_classifier.network.parameters():
        p.stop_gradient = True
    exp = GradCAM(cnn_classifier).explain(images[0], target=2)
    assert exp.method == "gradcam" and exp.target == 2 and exp.attribution.shape == (32, 32)
    assert exp.extras["lowres"].shape == (16, 16) and exp.params["target_layer"] == "features"
    assert (exp.attribution >= 0).all()


# -- default layer and layer names ------------------------------------------------------------
class SharedActNet(paddle.nn.Layer):
    """Two convolutions sharing one ReLU module (called twice), then a head."""

    def __init__(self):
        super().__init__()
        self.conv1 = paddle.nn.Conv2D(3, 4, 3, padding=1)
        self.conv2 = paddle.nn.Conv2D(4, 6, 3, padding=1)
        self.act = paddle.nn.ReLU()
        self.fc = paddle.nn.Linear(6, 3)

    def forward(self, x):
        x = self.act(self.conv2(self.act(self.conv1(x))))
        return self.fc(x.mean(axis=[2, 3]))


def test_default_target_layer(cnn_classifier, demo_model):
    assert default_target_layer(cnn_classifier, (32, 32)) == "features"
    assert default_target_layer(PaddleLayerClassifier(SharedActNet(), preprocess=RAW), (32, 32, 3)) == "conv2"
    # EfficientNet-Lite0: the 1280-channel head's batch norm; the shared ReLU6 after it is skipped.
    assert default_target_layer(demo_model, (1, 224, 224, 3)) == "_bn1"
    for layer in demo_model.network.sublayers(include_self=True):
        assert not layer._forward_post_hooks and not layer._forward_pre_hooks
    flat = PaddleLayerClassifier(RegionScoreNet((0, 4), (0, 4)), preprocess=RAW)
    with pytest.raises(ValueError, match="target_layer"):
        default_target_layer(flat, (8, 8))


@pytest.mark.parametrize("method", [GradCAM, ScoreCAM])
def test_unknown_layer_lists_valid_names(cnn_classifier, method):
    with pytest.raises(ValueError) as info:
        method(cnn_classifier, target_layer="featurs.4")
    message = str(info.value)
    assert "'featurs.4'" in message and "features.4" in message and "fc" in message


def test_layer_called_twice_or_not_4d(images):
    clf = PaddleLayerClassifier(SharedActNet(), preprocess=RAW)
    with pytest.raises(ValueError, match="called 2 times"):
        GradCAM(clf, target_layer="act").attribute(images, 0)
    with pytest.raises(ValueError, match="4-D"):
        GradCAM(clf, target_layer="fc").attribute(images, 0)
    with pytest.raises(TypeError, match="target_layer"):
        GradCAM(clf, target_layer=3)


# -- Score-CAM --------------------------------------------------------------------------------
def test_scorecam_equals_reference_and_batches_lazily(cnn_classifier, images):
    targets = [0, 3]
    x = cnn_classifier.preprocess(images)
    features = split_forward(x, 6)[0].numpy()
    net = SmallCNN()
    net.eval()
    expected = np.zeros((2, 32, 32))
    for i, t in enumerate(targets):
        for k in range(features.shape[1]):
            up = resize(features[i, k][None], (32, 32))[0]
            span = up.max() - up.min()
            mask = (up - up.min()) / span if span > 0 else np.zeros_like(up)
            with paddle.no_grad():
                p = F.softmax(net(paddle.to_tensor((x[i] * mask)[None].astype(np.float32))), axis=1)
            expected[i] += float(p[0, t]) * up
    expected = np.maximum(expected, 0)

    sizes = []
    forward = cnn_classifier.forward
    cnn_classifier.forward = lambda inputs: (sizes.append(inputs.shape[0]), forward(inputs))[1]
    results = {}
    for batch_size in (3, 16):
        sizes.clear()
        results[batch_size] = ScoreCAM(cnn_classifier, "features", batch_size=batch_size,
                                       progress=False).attribute(images, targets)
        # one forward for the activations, then the 16 masked inputs per image, batch_size at a time
        assert sizes[0] == 2 and max(sizes[1:]) <= batch_size and sum(sizes[1:]) == 2 * 16
    assert expected.max() > 0
    np.testing.assert_allclose(results[16], expected, rtol=1e-4, atol=1e-5 * expected.max())
    np.testing.assert_allclose(results[3], results[16], rtol=1e-5, atol=1e-6 * expected.max())


def test_scorecam_explain(cnn_classifier, images):
    exp = ScoreCAM(cnn_classifier, progress=False).explain(images[1])
    assert exp.method == "scorecam" and exp.attribution.shape == (32, 32) and (exp.attribution >= 0).all()
    assert exp.extras["lowres"].shape == (16, 16)
    assert exp.params == {"target_layer": "features", "batch_size": 16}
    with pytest.raises(ValueError, match="batch_size"):
        ScoreCAM(cnn_classifier, batch_size=0)


# -- the real demo model ----------------------------------------------------------------------
def test_gradcam_on_demo_points_at_the_cat(demo_model, chelsea):
    image, mask = chelsea
    exp = GradCAM(demo_model).explain(image)
    assert exp.label_name in ("tiger cat", "Egyptian cat", "tabby")
    assert exp.params["target_layer"] == "_bn1" and exp.extras["lowres"].shape == (7, 7)
    cam = exp.attribution
    assert cam.shape == (224, 224) and (cam >= 0).all()
    peak = np.unravel_index(np.argmax(cam), cam.shape)
    assert mask[peak], f"Grad-CAM peak {peak} is off the cat"
    assert cam[mask].mean() > 2 * cam[~mask].mean()


def test_scorecam_on_demo_points_at_the_cat(demo_model, chelsea):
    image, mask = chelsea
    # '_blocks.7' has 80 channels at 14x14: 80 forwards (the 1280-channel default would take minutes here).
    cam = ScoreCAM(demo_model, target_layer="_blocks.7", batch_size=16, progress=False).attribute(image, 282)[0]
    assert cam.shape == (224, 224) and (cam >= 0).all() and cam.max() > 0
    peak = np.unravel_index(np.argmax(cam), cam.shape)
    assert mask[peak], f"Score-CAM peak {peak} is off the cat"
    assert cam[mask].mean() > cam[~mask].mean()
    assert all(not layer._forward_post_hooks for layer in demo_model.network.sublayers())


# -- hooks, modes and parameters --------------------------------------------------------------
RUNS = {
    "gradcam": lambda clf, imgs: GradCAM(clf).attribute(imgs, 1),
    "gradcam_layer": lambda clf, imgs: GradCAM(clf, "features.2", gradient_of="loss").attribute(imgs, 1),
    "scorecam": lambda clf, imgs: ScoreCAM(clf, batch_size=5, progress=False).attribute(imgs, 1),
    "scorecam_layer": lambda clf, imgs: ScoreCAM(clf, "features.4", progress=False).attribute(imgs, 1),
    "default_layer": lambda clf, imgs: default_target_layer(clf, imgs.shape),
}


@pytest.mark.parametrize("run", list(RUNS))
def test_hooks_removed_and_model_untouched(cnn_classifier, images, run):
    net = cnn_classifier.network
    net.train()
    before = snapshot(net)
    RUNS[run](cnn_classifier, images)
    assert_model_untouched(net, before, training=True)


class RaisingCNN(SmallCNN):
    """Once ``boom`` is set, fails after its feature extractor ran (every hook on it has fired)."""

    boom = False

    def forward(self, x):
        out = super().forward(x)
        if self.boom:
            raise RuntimeError("boom after the hooks fired")
        return out


@pytest.mark.parametrize("run", list(RUNS))
def test_hooks_removed_after_an_error(images, run):
    net = RaisingCNN()
    net.train()
    clf = PaddleLayerClassifier(net, preprocess=RAW)
    assert clf.num_classes == 5  # settled before the network starts failing
    net.boom = True
    before = snapshot(net)
    with pytest.raises(RuntimeError, match="boom"):
        RUNS[run](clf, images)
    assert_model_untouched(net, before, training=True)
