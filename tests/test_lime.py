"""LIME engine: known answers, reproducibility, batch-size invariance, surrogate maths."""
import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_distances

from conftest import GRID, grid_segments
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import LimeImage, SuperpixelExplanation, load_explanation
from paddlex_interpret.data import segment
from paddlex_interpret.engine.lime.local_model import cosine_distance_to_original, exponential_kernel
from paddlex_interpret.models import PaddleLayerClassifier

REGION_BLOCK = 6


def lime(classifier, **kw):
    kw.setdefault("num_samples", 300)
    kw.setdefault("batch_size", 50)
    kw.setdefault("random_state", 0)
    kw.setdefault("progress", False)
    return LimeImage(classifier, **kw)


@pytest.mark.parametrize("hide_color", [0, "mean", (10, 20, 30)])
def test_known_answer_region_ranked_first(region_classifier, mosaic, hide_color):
    exp = lime(region_classifier, segmentation=grid_segments, hide_color=hide_color).explain(mosaic, targets=1)
    w = exp.weights[1]
    if hide_color == "mean":
        # flat blocks: hiding with a block's own mean colour changes nothing, so nothing matters
        assert np.allclose(w, 0, atol=1e-6)
        return
    assert exp.ranked_superpixels(1)[0] == REGION_BLOCK
    others = np.delete(w, REGION_BLOCK)
    assert w[REGION_BLOCK] > 0.1
    assert np.abs(others).max() < 0.1 * w[REGION_BLOCK]
    assert exp.score > 0.95  # the surrogate is almost exact for a one-region model


def test_known_answer_with_default_quickshift(region_classifier, mosaic):
    """Through the default segmenter: the superpixels that cover the region come first."""
    exp = lime(region_classifier).explain(mosaic, targets=1)
    region = np.zeros(mosaic.shape[:2], bool)
    region[16:32, 32:48] = True
    covering = set(np.unique(exp.segments[region]))
    top = exp.ranked_superpixels(1)[: len(covering)]
    assert set(top) == covering


def test_explains_top1_by_default_and_top_k(region_classifier, mosaic):
    probs = region_classifier.predict_proba(mosaic[None])[0]
    exp = lime(region_classifier, segmentation=grid_segments).explain(mosaic)
    assert exp.targets == [int(np.argmax(probs))]
    assert exp.probability == pytest.approx(probs.max())
    exp2 = lime(region_classifier, segmentation=grid_segments).explain(mosaic, top_k=2)
    assert exp2.targets == list(np.argsort(-probs))
    # the two classes' probabilities sum to one, so their weights are opposite
    np.testing.assert_allclose(exp2.weights[0], -exp2.weights[1], atol=1e-9)


def test_same_seed_same_weights_different_seed_differs(small_cnn, mosaic):
    clf = PaddleLayerClassifier(small_cnn, preprocess=ImagePreprocess(resize_short=None, crop_size=None))
    a = lime(clf, num_samples=120).explain(mosaic, targets=2)
    b = lime(clf, num_samples=120).explain(mosaic, targets=2)
    c = lime(clf, num_samples=120, random_state=1).explain(mosaic, targets=2)
    np.testing.assert_array_equal(a.weights[2], b.weights[2])
    np.testing.assert_array_equal(a.segments, b.segments)
    assert not np.allclose(a.weights[2], c.weights[2])


def test_batch_size_does_not_change_weights_exactly(region_classifier, mosaic):
    """The masks do not depend on batch_size; with a batch-invariant network the weights are equal."""
    ref = lime(region_classifier, segmentation=grid_segments, batch_size=50).explain(mosaic, targets=1)
    for batch_size in (1, 7, 300):
        other = lime(region_classifier, segmentation=grid_segments, batch_size=batch_size).explain(mosaic, targets=1)
        np.testing.assert_array_equal(other.weights[1], ref.weights[1])


@pytest.mark.parametrize("batch_size", [1, 7, 120])
def test_batch_size_does_not_change_weights_cnn(small_cnn, mosaic, batch_size):
    """A conv net: Paddle's CPU kernels round differently per batch shape (float32), nothing more."""
    clf = PaddleLayerClassifier(small_cnn, preprocess=ImagePreprocess(resize_short=None, crop_size=None))
    ref = lime(clf, num_samples=120, batch_size=50).explain(mosaic, targets=[0, 3])
    other = lime(clf, num_samples=120, batch_size=batch_size).explain(mosaic, targets=[0, 3])
    for t in (0, 3):
        scale = np.abs(ref.weights[t]).max()
        np.testing.assert_allclose(other.weights[t], ref.weights[t], rtol=0, atol=1e-4 * scale)


def test_seed_is_recorded_and_reproduces(region_classifier, mosaic):
    first = lime(region_classifier, random_state=None, segmentation=grid_segments).explain(mosaic, targets=1)
    seed = first.params["random_state"]
    assert isinstance(seed, int)
    again = lime(region_classifier, random_state=seed, segmentation=grid_segments).explain(mosaic, targets=1)
    np.testing.assert_array_equal(first.weights[1], again.weights[1])


def test_perturbed_batches_paint_hidden_superpixels(region_classifier, mosaic):
    engine = lime(region_classifier, hide_color=0)
    segments = grid_segments(mosaic)
    masks = np.random.default_rng(0).integers(0, 2, size=(5, GRID * GRID), dtype=np.uint8)
    fill = engine._fill_image(mosaic, segments)
    batch = engine._perturbed(mosaic, segments, masks, fill)
    for i in range(5):
        for sp in range(GRID * GRID):
            pixels = batch[i][segments == sp]
            expected = mosaic[segments == sp] if masks[i, sp] else 0
            assert np.all(pixels == expected)


def test_cosine_distance_and_kernel_match_reference():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 2, size=(50, 12)).astype(np.uint8)
    masks[0] = 1
    masks[1] = 0
    ref = cosine_distances(masks, masks[:1]).ravel()
    np.testing.assert_allclose(cosine_distance_to_original(masks), ref, atol=1e-12)
    d = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(exponential_kernel(d, 0.25), np.sqrt(np.exp(-d ** 2 / 0.0625)))


def test_segmentation_methods(mosaic):
    big = np.kron(mosaic, np.ones((2, 2, 1), dtype=np.uint8))
    for method in ("quickshift", "slic", "felzenszwalb"):
        seg = segment(big, method)
        assert seg.shape == big.shape[:2] and seg.dtype == np.int32
        assert seg.min() == 0 and set(np.unique(seg)) == set(range(seg.max() + 1))
    with pytest.raises(ValueError, match="unknown segmentation 'watershed'.*quickshift"):
        segment(big, "watershed")
    with pytest.raises(ValueError, match="invalid segmentation_params"):
        segment(big, "slic", {"no_such_param": 1})


def test_explanation_save_load_roundtrip(region_classifier, mosaic, tmp_path):
    exp = lime(region_classifier, segmentation=grid_segments).explain(mosaic, targets=[1, 0])
    path = exp.save(tmp_path / "exp")
    assert path.name == "exp.npz"
    back = load_explanation(path)
    assert isinstance(back, SuperpixelExplanation)
    assert back.targets == [1, 0] and back.label_names == {1: "region", 0: "other"}
    np.testing.assert_array_equal(back.image, exp.image)
    np.testing.assert_array_equal(back.segments, exp.segments)
    for t in (0, 1):
        np.testing.assert_array_equal(back.weights[t], exp.weights[t])
    assert back.params == exp.params and back.scores == exp.scores
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="not a paddlex_interpret explanation"):
        load_explanation(tmp_path / "bad.npz")


def test_panel_selection_never_shrinks_and_skips_small_superpixels():
    from paddlex_interpret.vis.superpixels import PANEL_THRESHOLDS, select_superpixels

    segments = np.repeat(np.arange(10), 100).reshape(10, 100)  # ten 100-pixel superpixels
    segments[9, :95] = 8  # superpixel 9 is tiny (5 pixels), superpixel 8 large
    weights = np.array([0.3, 0.0, 0.2, -0.5, 0.1, 0.05, 0.0, 0.0, 0.05, 0.3])
    chosen = [select_superpixels(weights, segments, t) for t in PANEL_THRESHOLDS]
    assert all(9 not in c for c in chosen)  # the tiny superpixel is never shown
    assert list(chosen[0][:2]) == [0, 2]
    sizes = [len(c) for c in chosen]
    assert sizes == sorted(sizes)
    # shares of qualified superpixels (0.3, 0.2, 0.1, 0.05, 0.05 of 1.0): 0.6 is exceeded at the 4th
    assert list(chosen[0]) == [0, 2, 4, 5]
    assert len(select_superpixels(-np.abs(weights), segments, 0.6)) == 0
