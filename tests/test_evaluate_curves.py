"""Deletion/insertion, MoRF/LeRF and infidelity on known-answer models."""
import numpy as np
import paddle
import pytest

from conftest import GRID, SIZE, block_bounds, grid_segments
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.explanation import PixelExplanation, SuperpixelExplanation
from paddlex_interpret.evaluate import MetricResult
from paddlex_interpret.evaluate._curves import fill_image
from paddlex_interpret.evaluate import get_metric, metric_names
from paddlex_interpret.evaluate.deletion_insertion import Deletion, DeletionInsertion, Insertion
from paddlex_interpret.evaluate.infidelity import Infidelity, square_perturbations
from paddlex_interpret.evaluate.perturbation import LeRF, MoRF, Perturbation
from paddlex_interpret.models import PaddleLayerClassifier

PLAIN = ImagePreprocess(resize_short=None, crop_size=None)
BLOCK = 6  # the block the known-answer model looks at
N_BLOCKS = GRID * GRID


# -- known-answer models ---------------------------------------------------------------------------
class IntactRegionNet(paddle.nn.Layer):
    """Probabilities [1 - s, s], s = fraction of the region's pixels still equal to the reference image
    (all channels within ``tol`` in normalised units), whatever replaced the others."""

    def __init__(self, reference, rows, cols, tol=1e-3):
        super().__init__()
        self.reference = paddle.to_tensor(PLAIN(reference[None]))
        self.rows, self.cols, self.tol = rows, cols, tol

    def forward(self, x):
        r, c = self.rows, self.cols
        diff = (x[:, :, r[0]:r[1], c[0]:c[1]] - self.reference[:, :, r[0]:r[1], c[0]:c[1]]).abs().max(axis=1)
        s = (diff < self.tol).astype("float32").mean(axis=[1, 2])
        return paddle.stack([1 - s, s], axis=1)


class LinearProbNet(paddle.nn.Layer):
    """Probabilities [0.5 + <w, x>, 0.5 - <w, x>] on the normalised input: f(x) - f(x') = <w, x - x'>."""

    def __init__(self, w):
        super().__init__()
        self.w = paddle.to_tensor(w[None].astype("float32"))

    def forward(self, x):
        z = (x * self.w).sum(axis=[1, 2, 3])
        return paddle.stack([0.5 + z, 0.5 - z], axis=1)


def _classifier(net, n=2):
    return PaddleLayerClassifier(net, preprocess=PLAIN, labels=[str(i) for i in range(n)], output="probabilities")


def _count_images(classifier):
    """Wrap predict_proba on the instance; returns the list of batch lengths it was called with."""
    calls = []
    inner = classifier.predict_proba

    def counting(images, batch_size=50):
        calls.append(len(images))
        return inner(images, batch_size=batch_size)

    classifier.predict_proba = counting
    return calls


@pytest.fixture
def intact(mosaic):
    rows, cols = block_bounds(BLOCK)
    return _classifier(IntactRegionNet(mosaic, rows, cols))


def _superpixel(image, weights, target=1):
    return SuperpixelExplanation(method="test", image=image, segments=grid_segments(image).astype(np.int32),
                                 targets=[target], weights={target: np.asarray(weights, dtype=np.float64)},
                                 label_names={target: str(target)}, probabilities={target: 1.0})


def _pixel(image, attribution, target=1):
    return PixelExplanation(method="test", image=image, attribution=np.asarray(attribution), target=target,
                            label_name=str(target), probability=1.0)


def _good_bad_weights():
    good = np.linspace(0.5, 0.0, N_BLOCKS)
    good[BLOCK] = 2.0  # the region first
    bad = good.copy()
    bad[BLOCK] = -2.0  # the region last
    return good, bad


def _region_map(good=True):
    rng = np.random.default_rng(0)
    m = rng.uniform(0, 0.5, size=(SIZE, SIZE))
    rows, cols = block_bounds(BLOCK)
    m[rows[0]:rows[1], cols[0]:cols[1]] = 1.0 if good else -1.0
    return m


# -- deletion / insertion ----------------------------------------------------------------------------
def test_superpixel_known_answers(mosaic, intact):
    good, bad = _good_bad_weights()
    e_good, e_bad = _superpixel(mosaic, good), _superpixel(mosaic, bad)
    # 16 superpixels, one step each; the region is 1/16 of the image: the probability is 1 until the
    # region goes and 0 after, so the areas are exact trapezoids.
    assert Deletion().evaluate(e_good, intact).score == pytest.approx(1 / 32)
    assert Deletion().evaluate(e_bad, intact).score == pytest.approx(31 / 32)
    assert Insertion().evaluate(e_good, intact).score == pytest.approx(31 / 32)
    assert Insertion().evaluate(e_bad, intact).score == pytest.approx(1 / 32)

    res = Deletion().evaluate(e_good, intact)
    assert isinstance(res, MetricResult) and res.name == "deletion" and res.higher_is_better is False
    np.testing.assert_allclose(res.details["fractions"], np.arange(17) / 16)
    np.testing.assert_allclose(res.details["probabilities"], [1.0] + [0.0] * 16)
    assert res.details["kind"] == "superpixel" and res.details["steps"] == 16 and res.details["target"] == 1


@pytest.mark.parametrize("channels", [False, True])
def test_pixel_known_answers(mosaic, intact, channels):
    good_map, bad_map = _region_map(True), _region_map(False)
    if channels:  # (3, H, W) with mixed signs: ranked by |a| summed over channels, so "bad" is 0, not negative
        bad_map = np.where(bad_map < 0, 0.0, bad_map)
        good_map, bad_map = (np.stack([m, -m, m]) / 3 for m in (good_map, bad_map))
    good, bad = _pixel(mosaic, good_map), _pixel(mosaic, bad_map)
    d_good, d_bad = Deletion().evaluate(good, intact), Deletion().evaluate(bad, intact)
    i_good, i_bad = Insertion().evaluate(good, intact), Insertion().evaluate(bad, intact)
    # 20 steps of 5 %: the region (6.25 %) goes in the first two steps
    assert d_good.score == pytest.approx(0.05 * (1 + 0.2) / 2 + 0.05 * 0.2 / 2, abs=0.002)
    assert d_good.score < 0.05 and d_bad.score > 0.9
    assert i_good.score > 0.95 and i_bad.score < 0.1
    assert d_good.details["kind"] == "pixel" and len(d_good.details["fractions"]) == 21
    np.testing.assert_allclose(d_good.details["fractions"], np.linspace(0, 1, 21), atol=1 / SIZE ** 2)


def test_both_mode_is_one_result_holding_both_curves(mosaic, intact):
    e = _superpixel(mosaic, _good_bad_weights()[0])
    calls = _count_images(intact)
    both = DeletionInsertion().evaluate(e, intact)
    assert sum(calls) == 16 + 16  # 17 images per curve, the two end images shared
    assert both.name == "deletion_insertion" and both.higher_is_better is True
    d, i = Deletion().evaluate(e, intact), Insertion().evaluate(e, intact)
    assert both.details["deletion_score"] == pytest.approx(d.score)
    assert both.details["insertion_score"] == pytest.approx(i.score)
    assert both.score == pytest.approx(i.score - d.score)
    np.testing.assert_allclose(both.details["deletion_probabilities"], d.details["probabilities"])
    np.testing.assert_allclose(both.details["insertion_fractions"], i.details["fractions"])
    single = DeletionInsertion(mode="insertion")
    assert single.name == "insertion" and single.higher_is_better is True
    assert single.evaluate(e, intact).score == pytest.approx(i.score)


@pytest.mark.parametrize("kind", ["superpixel", "pixel"])
def test_morf_is_deletion_and_lerf_mirrors_insertion(mosaic, intact, kind):
    for good in (True, False):
        w = _good_bad_weights()[0 if good else 1]
        e = _superpixel(mosaic, w) if kind == "superpixel" else _pixel(mosaic, _region_map(good))
        morf, lerf = MoRF().evaluate(e, intact), LeRF().evaluate(e, intact)
        assert morf.score == pytest.approx(Deletion().evaluate(e, intact).score)
        # removing the least relevant fraction x leaves the image insertion reaches at 1 - x
        assert lerf.score == pytest.approx(Insertion().evaluate(e, intact).score, abs=1e-9)
        assert (morf.score < 0.1 and lerf.score > 0.9) if good else (morf.score > 0.9 and lerf.score < 0.1)
        both = Perturbation().evaluate(e, intact)
        assert both.name == "perturbation" and both.score == pytest.approx(lerf.score - morf.score)
        assert both.details["lerf_fractions"][0] == 0 and both.details["lerf_fractions"][-1] == 1
    assert MoRF().higher_is_better is False and LeRF().higher_is_better is True


@pytest.mark.parametrize("fill", ["grey", "mean", "blur", 30, (10, 200, 60)])
def test_fills(mosaic, intact, fill):
    filled = fill_image(fill, mosaic, sigma=4.0)
    assert filled.shape == mosaic.shape and filled.dtype == np.uint8
    if fill == "grey":
        assert np.all(filled == 127)
    elif fill == "mean":
        assert np.all(filled == np.rint(mosaic.reshape(-1, 3).mean(axis=0)).astype(np.uint8))
    elif fill == "blur":
        assert np.abs(filled.astype(int) - mosaic).mean() > 2  # the block edges move
        assert filled.reshape(-1, 3).std(axis=0).max() < mosaic.reshape(-1, 3).std(axis=0).max()
    else:
        assert np.all(filled == np.broadcast_to(np.asarray(fill, dtype=np.uint8), (3,)))
    good, bad = _good_bad_weights()
    kw = dict(fill=fill, sigma=4.0)
    res = Deletion(**kw).evaluate(_superpixel(mosaic, good), intact, target=1)
    if isinstance(fill, str):
        assert res.details["fill"] == fill
    assert res.score < 0.1
    assert Deletion(**kw).evaluate(_superpixel(mosaic, bad), intact).score > 0.9
    assert Insertion(**kw).evaluate(_superpixel(mosaic, good), intact).score > 0.9


def test_images_and_grouping(mosaic, intact):
    good = _good_bad_weights()[0]
    e = _superpixel(mosaic, good)
    res = Deletion(steps=5, return_images=True).evaluate(e, intact)
    # 16 superpixels in 5 even groups (4, 3, 3, 3, 3), x = exact fraction of pixels removed
    np.testing.assert_allclose(res.details["fractions"], np.array([0, 4, 7, 10, 13, 16]) / 16)
    images = res.details["images"]
    assert images.shape == (6,) + mosaic.shape and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], mosaic)
    assert np.all(images[-1] == 127)
    rows, cols = block_bounds(BLOCK)
    assert np.all(images[1][rows[0]:rows[1], cols[0]:cols[1]] == 127)  # the region went first
    ins = Insertion(limit_number_generated_samples=5, return_images=True).evaluate(e, intact)
    assert np.all(ins.details["images"][0] == 127)
    np.testing.assert_array_equal(ins.details["images"][-1], mosaic)
    assert Deletion(steps=None).evaluate(e, intact).details["steps"] == 16
    assert Deletion(steps=None).evaluate(_pixel(mosaic, _region_map()), intact).details["steps"] == 20


def test_parameter_and_input_errors(mosaic, intact):
    e = _superpixel(mosaic, _good_bad_weights()[0])
    with pytest.raises(ValueError, match="mode"):
        DeletionInsertion(mode="deletions")
    with pytest.raises(ValueError, match="deletion"):
        Deletion(mode="insertion")
    with pytest.raises(ValueError, match="mode"):
        Perturbation(mode="deletion")
    with pytest.raises(ValueError, match="fill"):
        Deletion(fill="black")
    with pytest.raises(ValueError, match="grey level"):
        MoRF(fill=300)
    with pytest.raises(ValueError, match="batch_size"):
        Deletion(batch_size=0)
    with pytest.raises(ValueError, match="disagree"):
        Deletion(steps=10, limit_number_generated_samples=5)
    with pytest.raises(ValueError, match="classifier"):
        Deletion().evaluate(e)
    with pytest.raises(ValueError, match="was not explained"):
        Deletion().evaluate(e, intact, target=0)
    with pytest.raises(TypeError, match="extra inputs"):
        Infidelity().evaluate(e, intact, bbox=(0, 0, 4, 4))
    with pytest.raises(ValueError, match="does not match"):
        Deletion().evaluate(_pixel(mosaic, np.ones((8, 8))), intact)
    for name in ("deletion_insertion", "deletion", "insertion", "perturbation", "morf", "lerf", "infidelity"):
        assert name in metric_names()
    assert not get_metric("deletion").higher_is_better and get_metric("insertion").higher_is_better
    assert not get_metric("morf").higher_is_better and get_metric("lerf").higher_is_better
    assert not get_metric("infidelity").higher_is_better


# -- batch size never changes a score ---------------------------------------------------------------
def _scores_by_batch_size(clf, explanations, metrics):
    """{(metric, explanation index): {batch_size: MetricResult}}; checks no pass exceeds batch_size."""
    out = {}
    for key, make in metrics.items():
        for k, e in enumerate(explanations):
            for b in (1, 7, 50):
                calls = _count_images(clf)
                out.setdefault((key, k), {})[b] = make(b).evaluate(e, clf)
                assert max(calls) <= b
                del clf.predict_proba  # back to the class's method
    return out


def _assert_same(results, rtol, atol):
    for key, by_size in results.items():
        for b in (7, 50):
            assert by_size[b].score == pytest.approx(by_size[1].score, rel=rtol, abs=atol), (key, b)
            for name, value in by_size[1].details.items():
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    np.testing.assert_allclose(by_size[b].details[name], value, rtol=rtol, atol=atol)


METRICS = {"di": lambda b: DeletionInsertion(steps=10, batch_size=b),
           "pert": lambda b: Perturbation(steps=10, batch_size=b),
           "infid": lambda b: Infidelity(sizes=(16, 32), stride=16, batch_size=b)}


def test_batch_size_invariance_exact(mosaic, intact, linear):
    rng = np.random.default_rng(1)
    explanations = [_superpixel(mosaic, rng.normal(size=N_BLOCKS)), _pixel(mosaic, rng.normal(size=(3, SIZE, SIZE)))]
    results = _scores_by_batch_size(intact, explanations, METRICS)
    results.update({("linear",) + k: v for k, v in _scores_by_batch_size(linear[0], explanations, METRICS).items()})
    _assert_same(results, rtol=0, atol=1e-12)


def test_batch_size_invariance_cnn(mosaic, small_cnn):
    # a real conv net: float32 kernels may round differently per batch shape, and batches of more
    # than one image run through Paddle Inference (oneDNN) - float32 rounding, nothing more
    clf = PaddleLayerClassifier(small_cnn, preprocess=PLAIN)
    target = int(np.argmax(clf.predict_proba(mosaic[None])[0]))
    rng = np.random.default_rng(1)
    explanations = [_superpixel(mosaic, rng.normal(size=N_BLOCKS), target=target),
                    _pixel(mosaic, rng.normal(size=(3, SIZE, SIZE)), target=target)]
    _assert_same(_scores_by_batch_size(clf, explanations, METRICS), rtol=1e-4, atol=1e-5)


# -- infidelity ----------------------------------------------------------------------------------------
@pytest.fixture
def linear():
    """A linear model, its weights, and the image it is evaluated on."""
    rng = np.random.default_rng(3)
    # block-constant weights, so a superpixel explanation on the grid can be exact too
    w_blocks = rng.uniform(-1, 1, size=(3, N_BLOCKS)) * 2e-5
    seg = grid_segments(np.zeros((SIZE, SIZE)))
    w = w_blocks[:, seg]
    return _classifier(LinearProbNet(w)), w


def _exact_attribution(image, w, fill=127):
    """w * (x - fill) in normalised units: summed over a hidden square it is exactly f(x) - f(x - I)."""
    x = PLAIN(image[None])[0].astype(np.float64)
    f = PLAIN(np.full_like(image, fill)[None])[0].astype(np.float64)
    return w * (x - f)


def test_infidelity_exact_linear_attribution(mosaic, linear):
    clf, w = linear
    target = 0
    exact = _exact_attribution(mosaic, w)
    rng = np.random.default_rng(5)
    shuffled = rng.permutation(exact.reshape(3, -1), axis=1).reshape(exact.shape)
    metric = Infidelity(sizes=(16, 32), stride=8)
    r_exact = metric.evaluate(_pixel(mosaic, exact, target=target), clf)
    r_scaled = metric.evaluate(_pixel(mosaic, 7.0 * exact, target=target), clf)
    r_shuffled = metric.evaluate(_pixel(mosaic, shuffled, target=target), clf)
    assert r_exact.name == "infidelity" and r_exact.higher_is_better is False
    assert r_exact.details["num_perturbations"] == 7 * 7 + 5 * 5
    assert r_exact.details["beta"] == pytest.approx(1.0, rel=1e-3)
    assert r_exact.details["relative"] < 1e-5
    assert r_scaled.score == pytest.approx(r_exact.score, rel=1e-6, abs=1e-15)  # scale-invariant
    assert r_shuffled.details["relative"] > 0.05
    assert r_shuffled.score > 1e3 * r_exact.score
    zero = metric.evaluate(_pixel(mosaic, np.zeros((SIZE, SIZE)), target=target), clf)
    assert zero.details["relative"] == pytest.approx(1.0) and zero.details["beta"] == 0.0

    # a superpixel explanation on the grid is exact too: the mosaic and w are constant per block
    phi, seg = exact.sum(axis=0), grid_segments(mosaic)
    weights = np.array([phi[seg == b][0] for b in range(N_BLOCKS)])
    r_sp = metric.evaluate(_superpixel(mosaic, weights, target=target), clf)
    assert r_sp.details["relative"] < 1e-5
    r_sp_bad = metric.evaluate(_superpixel(mosaic, rng.permutation(weights), target=target), clf)
    assert r_sp_bad.details["relative"] > 0.05


def test_infidelity_cache(mosaic, linear):
    clf, w = linear
    exact = _exact_attribution(mosaic, w)
    metric = Infidelity(sizes=(16, 32), stride=8)
    n = 7 * 7 + 5 * 5 + 1
    calls = _count_images(clf)
    first = metric.evaluate(_pixel(mosaic, exact, target=0), clf)
    assert sum(calls) == n and first.details["cached"] is False
    second = metric.evaluate(_pixel(mosaic, exact[::-1].copy(), target=0), clf)
    assert sum(calls) == n and second.details["cached"] is True  # same image: no model call
    again = metric.evaluate(_pixel(mosaic, exact, target=0), clf)
    assert again.score == first.score

    other = mosaic.copy()
    other[0, 0, 0] ^= 1  # one bit differs: never the cached responses
    third = metric.evaluate(_pixel(other, _exact_attribution(other, w), target=0), clf)
    assert sum(calls) == 2 * n and third.details["cached"] is False
    assert third.details["relative"] < 1e-5
    metric.evaluate(_pixel(mosaic, -exact, target=1), clf)  # another class
    assert sum(calls) == 3 * n
    clf2 = _classifier(LinearProbNet(-w))  # another model, same image
    r2 = metric.evaluate(_pixel(mosaic, exact, target=0), clf2)
    assert r2.details["cached"] is False and r2.details["beta"] == pytest.approx(-1.0, rel=1e-3)
    metric.clear_cache()
    metric.evaluate(_pixel(mosaic, exact, target=0), clf)
    assert sum(calls) == 4 * n
    assert Infidelity(sizes=(16, 32), stride=8, fill="mean").evaluate(_pixel(mosaic, exact, target=0),
                                                                     clf).details["cached"] is False


def test_infidelity_squares_and_errors(mosaic, linear):
    clf, w = linear
    sq = square_perturbations(64, 48, (32, 64, 128), 8)
    assert set(sq[:, 2]) == {32}  # larger squares do not fit
    assert sq[:, 0].max() == 32 and sq[:, 1].max() == 16
    sq = square_perturbations(40, 40, (16,), 16)  # 0, 16 plus one flush with the edge at 24
    assert sorted(set(sq[:, 0])) == [0, 16, 24]
    with pytest.raises(ValueError, match="fits"):
        Infidelity(sizes=(128,)).evaluate(_pixel(mosaic, np.ones((SIZE, SIZE)), target=0), clf)
    with pytest.raises(ValueError, match="reduce"):
        Infidelity(reduce="max")
    with pytest.raises(ValueError, match="sizes"):
        Infidelity(sizes=(0,))
