"""The engine still gives the numbers it gave before its speed work (tests/data/lime_reference.npz):
the same seed gives the same LIME weights and the same Occlusion map, to float32 rounding."""
from pathlib import Path

import numpy as np
import pytest

from conftest import SmallCNN
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import LimeImage, Occlusion
from paddlex_interpret.models import PaddleLayerClassifier

REFERENCE = Path(__file__).parent / "data" / "lime_reference.npz"


@pytest.fixture(scope="module")
def stored():
    with np.load(REFERENCE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def classifier(stored):
    import paddle

    net = SmallCNN()
    net.set_state_dict({k[len("param_"):]: paddle.to_tensor(v) for k, v in stored.items() if k.startswith("param_")})
    net.eval()
    return PaddleLayerClassifier(net, preprocess=ImagePreprocess(None, None))


@pytest.mark.parametrize("hide, tag", [(0, "grey0"), ("mean", "mean")])
def test_lime_weights_as_stored(stored, classifier, hide, tag):
    for batch_size in (50, 17):  # the batch size never mattered and still does not
        exp = LimeImage(classifier, num_samples=200, batch_size=batch_size, hide_color=hide, random_state=3,
                        progress=False).explain(stored["image"], top_k=2)
        np.testing.assert_array_equal(exp.segments, stored[f"lime_{tag}_segments"])
        assert exp.targets == stored[f"lime_{tag}_targets"].tolist()
        for t in exp.targets:
            ref = stored[f"lime_{tag}_weights_{t}"]
            np.testing.assert_allclose(exp.weights[t], ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())


def test_occlusion_map_as_stored(stored, classifier):
    # batches of 50 now (one window per forward before): the Paddle Inference runner instead of dygraph,
    # so float32 rounding of the probabilities (measured: at most 8.5e-8 apart) is all that may differ
    got = Occlusion(classifier, (3, 16, 16), strides=8, progress=False).attribute(stored["image"][None], [1])[0]
    ref = stored["occlusion_class1"]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)
    assert np.abs(ref).max() > 1e-3


def test_lime_builds_its_samples_in_the_network_input_space(stored, classifier):
    """With per-pixel normalisation LIME never normalises a perturbed image: the image and the fill are
    normalised once and every sample selects between them (same numbers as before, above)."""

    class NoImageBatches(PaddleLayerClassifier):
        def predict_proba(self, images, batch_size=50):
            raise AssertionError("LIME sent uint8 images instead of network inputs")

    fast = NoImageBatches(classifier.network, preprocess=classifier.preprocess)
    exp = LimeImage(fast, num_samples=200, batch_size=50, random_state=3, progress=False).explain(stored["image"],
                                                                                                 top_k=2)
    for t in exp.targets:
        np.testing.assert_allclose(exp.weights[t], stored[f"lime_grey0_weights_{t}"], rtol=1e-4,
                                   atol=1e-6 * np.abs(stored[f"lime_grey0_weights_{t}"]).max())
    custom = PaddleLayerClassifier(classifier.network,
                                   preprocess=ImagePreprocess(None, None, normalize=classifier.preprocess))
    from paddlex_interpret.models.base import input_space_ok

    assert input_space_ok(classifier) and not input_space_ok(custom)  # a callable may not be per pixel
    again = LimeImage(custom, num_samples=200, batch_size=50, random_state=3, progress=False).explain(
        stored["image"], top_k=2)
    for t in exp.targets:
        np.testing.assert_allclose(again.weights[t], exp.weights[t], rtol=1e-4, atol=1e-9)
