"""Gradient methods on networks with trained LayerNorms get correct input gradients.

Paddle 3.3.1's CPU ``layer_norm`` kernel returns a wrong input gradient when its scale is not 1
(models/layer_norm.py); every gradient path runs under hooks that recompute LayerNorms from
elementary ops. Checked here against a float64 finite difference and Integrated Gradients'
completeness on an image network whose LayerNorm has scales in [0.5, 2].
"""
import numpy as np
import paddle
import pytest

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import IntegratedGradients
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.models.layer_norm import exact_layer_norm


class PooledLayerNormNet(paddle.nn.Layer):
    """Pool to 4x4, flatten (48 features), a LayerNorm with trained-looking scales, a tanh, logits."""

    def __init__(self):
        super().__init__()
        self.pool = paddle.nn.AdaptiveAvgPool2D(4)
        self.norm = paddle.nn.LayerNorm(48)
        self.hidden = paddle.nn.Linear(48, 16)
        self.head = paddle.nn.Linear(16, 3)
        rng = np.random.RandomState(0)
        with paddle.no_grad():
            self.norm.weight.set_value(rng.uniform(0.5, 2.0, 48).astype("float32"))
            self.norm.bias.set_value(rng.normal(0, 0.5, 48).astype("float32"))

    def forward(self, x):
        return self.head(paddle.tanh(self.hidden(self.norm(self.pool(x).flatten(1)))))


@pytest.fixture(scope="module")
def classifier():
    paddle.seed(0)
    return PaddleLayerClassifier(PooledLayerNormNet(), preprocess=ImagePreprocess(resize_short=None, crop_size=None),
                                 labels=["a", "b", "c"])


def _logit(net, x64, target):
    """The target logit in float64 numpy (same architecture, no Paddle kernels) for finite differences."""
    pooled = x64.reshape(1, 3, 4, 8, 4, 8).mean(axis=(3, 5)).reshape(1, 48)
    w, b = net.norm.weight.numpy().astype(np.float64), net.norm.bias.numpy().astype(np.float64)
    centred = pooled - pooled.mean(-1, keepdims=True)
    normed = centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + net.norm._epsilon) * w + b
    hidden = np.tanh(normed @ net.hidden.weight.numpy().astype(np.float64) + net.hidden.bias.numpy())
    return (hidden @ net.head.weight.numpy().astype(np.float64) + net.head.bias.numpy())[0, target]


def test_gradient_path_matches_a_finite_difference(classifier):
    x = np.random.RandomState(1).normal(size=(1, 3, 32, 32)).astype("float32")
    tensor = paddle.to_tensor(x, stop_gradient=False)
    with classifier.eval_context():
        grad = paddle.grad(classifier.forward(tensor)[0, 1], tensor)[0].numpy()
    x64, eps = x.astype(np.float64), 1e-4
    rng = np.random.RandomState(2)
    for _ in range(6):  # random directions: the directional derivative must match
        d = rng.normal(size=x.shape)
        fd = (_logit(classifier.network, x64 + eps * d, 1) - _logit(classifier.network, x64 - eps * d, 1)) / (2 * eps)
        assert float((grad * d).sum()) == pytest.approx(fd, rel=1e-3, abs=1e-5)


def test_integrated_gradients_complete_on_a_layer_norm_network(classifier):
    image = np.random.RandomState(3).uniform(0, 255, (32, 32, 3)).astype("uint8")
    exp = IntegratedGradients(classifier, steps=200, gradient_of="logit").explain(image, target=1)
    inputs = paddle.to_tensor(classifier.preprocess(image[None]))
    with paddle.no_grad():
        gain = float(classifier.network(inputs).numpy()[0, 1] - classifier.network(paddle.zeros_like(inputs)).numpy()[0, 1])
    assert abs(gain) > 0.1
    assert float(exp.attribution.sum()) == pytest.approx(gain, rel=0.01)


def test_hooks_leave_values_and_the_network_unchanged(classifier):
    net = classifier.network
    x = paddle.to_tensor(np.random.RandomState(4).normal(size=(2, 3, 32, 32)).astype("float32"))
    plain = net(x).numpy()
    with exact_layer_norm(net):
        hooked = net(x).numpy()
    np.testing.assert_allclose(hooked, plain, rtol=1e-5, atol=1e-5)
    assert not net.norm._forward_post_hooks
