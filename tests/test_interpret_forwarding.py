"""Every free function forwards its parameters: changing one changes the result, and the value is
recorded in ``explanation.params``."""
import numpy as np
import pytest

from conftest import SmallCNN
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import PaddleLayerClassifier


@pytest.fixture
def classifier():
    return PaddleLayerClassifier(SmallCNN(), preprocess=ImagePreprocess(None, None), labels=list("abcde"))


# (function, fixed keyword arguments, parameter, value A, value B, how the value is recorded)
CASES = [
    ("intgrad", {"random_state": 0}, "steps", 2, 16, None),
    ("smoothgrad", {"random_state": 0}, "n_samples", 2, 9, None),
    ("smoothgrad", {"random_state": 0, "n_samples": 3}, "noise_amount", 0.05, 0.4, None),
    ("gradshap", {"random_state": 0}, "n_samples", 2, 7, None),
    ("occlusion", {"progress": False, "strides": 8}, "sliding_window_shapes", (3, 8, 8), (3, 32, 32), list),
    ("occlusion", {"progress": False, "sliding_window_shapes": (3, 16, 16)}, "strides", 16, 4, lambda v: [v, v]),
    ("gradcam", {}, "target_layer", "features.1", "features.5", None),
    ("scorecam", {"progress": False}, "target_layer", "features.1", "features.5", None),
    ("lrp", {}, "rule", "epsilon", "zplus", None),
    ("lime", {"progress": False, "random_state": 0, "num_samples": 40}, "kernel_width", 0.1, 5.0, None),
    ("lime", {"progress": False, "random_state": 0}, "num_samples", 20, 80, None),
]


@pytest.mark.parametrize("function, fixed, param, a, b, record", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_a_changed_parameter_changes_the_result_and_is_recorded(function, fixed, param, a, b, record, classifier,
                                                                mosaic):
    run = getattr(interpret, function)
    first = run(mosaic, classifier, save_dir=None, target=1, **fixed, **{param: a})
    second = run(mosaic, classifier, save_dir=None, target=1, **fixed, **{param: b})
    again = run(mosaic, classifier, save_dir=None, target=1, **fixed, **{param: a})
    record = record or (lambda v: v)
    assert first.params[param] == record(a) and second.params[param] == record(b)
    m1, m2, m3 = first.pixel_map(), second.pixel_map(), again.pixel_map()
    np.testing.assert_allclose(m1, m3, rtol=1e-5, atol=1e-7)  # deterministic for the same value
    assert not np.allclose(m1, m2, rtol=1e-3, atol=1e-6), f"{function}: {param}={a} and {b} gave the same map"


def test_compare_forwards_lime_num_samples_and_method_params(classifier, mosaic):
    default, = interpret.compare(mosaic, classifier, methods=["lime"], save_dir=None)
    assert default.params["num_samples"] == 1000
    fewer, = interpret.compare(mosaic, classifier, methods=["lime"], lime_num_samples=30, save_dir=None)
    assert fewer.params["num_samples"] == 30
    explicit, = interpret.compare(mosaic, classifier, methods=["lime"], lime_num_samples=30, save_dir=None,
                                  method_params={"lime": {"num_samples": 50}})
    assert explicit.params["num_samples"] == 50
    with pytest.raises(ValueError, match="lime_num_samples must be >= 2"):
        interpret.compare(mosaic, classifier, methods=["lime"], lime_num_samples=1, save_dir=None)
    with pytest.raises(ValueError, match="unknown method 'glime'.*choose from"):
        interpret.compare(mosaic, classifier, methods=["glime"], save_dir=None)


def test_consensus_forwards_method_params(classifier, mosaic):
    other = PaddleLayerClassifier(SmallCNN(), preprocess=ImagePreprocess(None, None))
    a = interpret.consensus(mosaic, [classifier, other], method="smoothgrad", save_dir=None,
                            method_params={"n_samples": 2, "random_state": 0})
    b = interpret.consensus(mosaic, [classifier, other], method="smoothgrad", save_dir=None,
                            method_params={"n_samples": 8, "random_state": 0})
    assert [p["n_samples"] for p in a.params["inner_params"]] == [2, 2]
    assert [p["n_samples"] for p in b.params["inner_params"]] == [8, 8]
    assert not np.allclose(a.attribution, b.attribution)
