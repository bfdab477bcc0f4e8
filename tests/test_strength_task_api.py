"""The task API, checked on values: ``compare`` gives what each method gives alone with the same
parameters, and the same seed gives the same figure, pixel for pixel."""
import numpy as np
import pytest
from PIL import Image

from conftest import SmallCNN
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import get_method
from paddlex_interpret.models import PaddleLayerClassifier


@pytest.fixture(scope="module")
def photo():
    import skimage.data

    return skimage.data.chelsea()


@pytest.fixture(scope="module")
def model():
    net = SmallCNN()
    net.fc.weight.set_value(net.fc.weight.numpy() * 20)  # classes well apart
    return PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=72, crop_size=64),
                                 labels=["a", "b", "c", "d", "e"])


PARAMS = {"lime": {"num_samples": 60, "batch_size": 20, "random_state": 0, "progress": False},
          "gradcam": {},
          "smoothgrad": {"n_samples": 6, "random_state": 0},
          "intgrad": {"steps": 6, "random_state": 0}}


def _values(exp):
    return exp.weights[exp.target] if hasattr(exp, "weights") else exp.attribution


def test_compare_gives_each_methods_own_result(model, photo):
    """Each explanation of compare equals the method run alone - by its engine class and by its free
    function - with the same parameters and target (arrays equal, not close)."""
    methods = list(PARAMS)
    together = interpret.compare(photo, model, methods=methods, method_params=PARAMS, save_dir=None)
    assert [e.method for e in together] == methods
    target = together[0].target
    assert all(e.target == target for e in together)
    assert target == int(np.argmax(model.predict_proba(model.image_as_explained(photo)[None])[0]))
    image = model.image_as_explained(photo)
    alone = {
        "lime": interpret.lime(photo, model, save_dir=None, target=target, **PARAMS["lime"]),
        "gradcam": interpret.gradcam(photo, model, save_dir=None, target=target),
        "smoothgrad": interpret.smoothgrad(photo, model, save_dir=None, target=target, **PARAMS["smoothgrad"]),
        "intgrad": interpret.intgrad(photo, model, save_dir=None, target=target, **PARAMS["intgrad"]),
    }
    for exp in together:
        engine = get_method(exp.method).load()(model, **PARAMS[exp.method]).explain(image, target)
        assert np.ptp(_values(exp)) > 0, exp.method  # a real map, not a constant one
        np.testing.assert_array_equal(_values(exp), _values(engine), err_msg=exp.method)
        np.testing.assert_array_equal(_values(exp), _values(alone[exp.method]), err_msg=exp.method)
    # and the parameters matter: another seed gives another SmoothGrad map
    other = interpret.compare(photo, model, methods=["smoothgrad"], save_dir=None,
                              method_params={"smoothgrad": {"n_samples": 6, "random_state": 1}})
    assert not np.array_equal(_values(other[0]), _values(together[2]))


def _png(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


def test_the_same_seed_gives_the_same_figure(model, photo, tmp_path):
    """interpret.lime(..., random_state=3) twice: the saved PNGs are the same pixels; seed 4 gives
    other weights and another figure."""
    kw = dict(num_samples=60, batch_size=20, progress=False)
    first = interpret.lime(photo, model, save_dir=tmp_path / "a", random_state=3, **kw)
    again = interpret.lime(photo, model, save_dir=tmp_path / "b", random_state=3, **kw)
    other = interpret.lime(photo, model, save_dir=tmp_path / "c", random_state=4, **kw)
    paths = [first.figure_path, again.figure_path, other.figure_path]
    assert len(set(paths)) == 3 and all(p.endswith("image_lime_s60.png") for p in paths)
    np.testing.assert_array_equal(first.weights[first.target], again.weights[again.target])
    np.testing.assert_array_equal(_png(first.figure_path), _png(again.figure_path))
    assert first.params["random_state"] == 3 and other.params["random_state"] == 4
    assert not np.array_equal(first.weights[first.target], other.weights[other.target])
    a, c = _png(first.figure_path), _png(other.figure_path)
    assert a.shape == c.shape and not np.array_equal(a, c)
