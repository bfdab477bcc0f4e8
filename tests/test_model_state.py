"""After every method the user's model is exactly as it was: parameters, modes, hooks, gradients."""
import numpy as np
import paddle
import pytest

from conftest import FAST_METHOD_PARAMS, SmallCNN
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import get_method
from paddlex_interpret.models import PaddleLayerClassifier

FAST = FAST_METHOD_PARAMS


def snapshot(net):
    return {
        "modes": [(n, l.training) for n, l in net.named_sublayers(include_self=True)],
        "params": {k: v.numpy().copy() for k, v in net.state_dict().items()},  # BN statistics included
        "grads": [p.grad is None for p in net.parameters()],
        "stop_gradient": [p.stop_gradient for p in net.parameters()],
    }


@pytest.mark.parametrize("method", sorted(FAST))
def test_method_leaves_model_untouched(method, mosaic):
    net = SmallCNN()
    net.train()
    net.features[1].eval()  # a mixed state must survive too
    before = snapshot(net)
    device, dynamic = paddle.get_device(), paddle.in_dynamic_mode()
    classifier = PaddleLayerClassifier(net, preprocess=ImagePreprocess(None, None))
    explanation = get_method(method).load()(classifier, **FAST[method]).explain(mosaic, None)
    assert explanation.image.shape == mosaic.shape
    assert np.all(np.isfinite(explanation.pixel_map()))
    after = snapshot(net)
    assert after["modes"] == before["modes"]
    assert after["grads"] == before["grads"] and after["stop_gradient"] == before["stop_gradient"]
    for k, v in before["params"].items():
        np.testing.assert_array_equal(after["params"][k], v)
    for layer in net.sublayers(include_self=True):
        assert not layer._forward_pre_hooks and not layer._forward_post_hooks
    assert paddle.get_device() == device and paddle.in_dynamic_mode() == dynamic
