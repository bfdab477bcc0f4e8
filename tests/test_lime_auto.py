"""num_samples='auto': enough samples and no more, and per-superpixel confidence intervals."""
import numpy as np
import paddle
import pytest

from conftest import GRID, grid_segments
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import LimeImage, load_explanation
from paddlex_interpret.models import PaddleLayerClassifier

REGION = 6  # region_classifier's class 1 depends on this block only


def auto(classifier, **kw):
    kw = {"num_samples": "auto", "segmentation": grid_segments, "random_state": 0, "progress": False, **kw}
    return LimeImage(classifier, **kw)


def test_stops_early_on_a_known_answer_model_with_the_right_superpixel(region_classifier, mosaic):
    exp = auto(region_classifier, max_samples=3000, stability_top_k=1).explain(mosaic, targets=1)
    p = exp.params
    assert p["num_samples"] == "auto" and p["stability_reached"] and p["stability"] >= 0.9 == p["stability_target"]
    assert p["samples_used"] == 250 < p["max_samples"] == 3000  # one round was enough
    assert int(np.argmax(exp.weights[1])) == REGION
    # the samples are the first ones of the fixed run with the same seed: same weights as num_samples=250
    fixed = LimeImage(region_classifier, num_samples=250, segmentation=grid_segments, random_state=0,
                      progress=False).explain(mosaic, targets=1)
    np.testing.assert_allclose(exp.weights[1], fixed.weights[1], rtol=1e-10, atol=1e-12)


class Noisy(paddle.nn.Layer):
    """Class scores that change with every pixel but follow no superpixel: a hash of the input."""

    def forward(self, x):
        h = paddle.sin(x.sum(axis=[1, 2, 3]) * 997.0) * 3.0
        return paddle.stack([h, -h], axis=1)


def test_runs_to_the_cap_and_says_so_on_a_noisy_model(mosaic):
    noisy = PaddleLayerClassifier(Noisy(), preprocess=ImagePreprocess(None, None))
    with pytest.warns(RuntimeWarning, match="used all max_samples=500 samples.*below stability_target=90%"):
        exp = auto(noisy, max_samples=500, auto_step=250).explain(mosaic)
    p = exp.params
    assert p["samples_used"] == 500 and not p["stability_reached"] and p["stability"] < 0.9


def test_stability_is_the_mean_share_of_the_top_k_that_bootstrap_refits_keep():
    from paddlex_interpret.engine.lime.local_model import top_k_stability

    weights = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])  # top 3: features 0, 1, 2
    boot = np.array([[5, 4, 3, 2, 1, 0],    # keeps 3 of 3
                     [0, 4, 3, 2, 1, 5],    # keeps 2 (1, 2; 5 replaces 0)
                     [0, 0, 0, 1, 2, 3.]])  # keeps 0 (3, 4, 5)
    assert top_k_stability(weights, boot, 3) == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert top_k_stability(weights, boot[:1], 3) == 1.0
    assert top_k_stability(weights, boot, 10) == 1.0  # k beyond the features: every refit keeps all


def test_confidence_intervals_hold_the_weights_narrow_with_samples_and_survive_saving(region_classifier, mosaic,
                                                                                    tmp_path):
    few, many = (LimeImage(region_classifier, num_samples=n, segmentation=grid_segments, random_state=0,
                           progress=False).explain(mosaic, targets=1) for n in (100, 2000))
    for exp in (few, many):
        ci = exp.confidence_intervals()
        assert ci.shape == (GRID * GRID, 2) and (ci[:, 0] <= ci[:, 1]).all()
        inside = (ci[:, 0] - 1e-9 <= exp.weights[1]) & (exp.weights[1] <= ci[:, 1] + 1e-9)
        assert inside.mean() > 0.8
        assert ci[REGION, 0] > np.delete(ci[:, 1], REGION).max()  # the region is surely first
    width = lambda e: np.mean(np.diff(e.confidence_intervals(), axis=1))  # noqa: E731
    assert width(many) < 0.5 * width(few)
    back = load_explanation(many.save(tmp_path / "e.npz"))
    np.testing.assert_array_equal(back.confidence_intervals(), many.confidence_intervals())
    with pytest.raises(KeyError, match="no confidence intervals for class 0"):
        many.confidence_intervals(0)


def test_interpret_lime_auto_names_its_figure_and_records_the_samples(region_classifier, mosaic, tmp_path):
    exp = interpret.lime(mosaic, region_classifier, num_samples="auto", target=1, stability_top_k=1,
                         save_dir=tmp_path, random_state=0, progress=False, segmentation=grid_segments)
    assert exp.figure_path == str(tmp_path / "image_lime_auto_class1.png") and exp.params["samples_used"] >= 250
    with pytest.raises(ValueError, match="num_samples must be an int >= 2 or 'auto'"):
        LimeImage(region_classifier, num_samples="many")
    with pytest.raises(ValueError, match="stability_target"):
        LimeImage(region_classifier, num_samples="auto", stability_target=1.5)


def test_the_bootstrap_refit_is_scikit_learns_weighted_ridge():
    from sklearn.linear_model import Ridge

    from paddlex_interpret.engine.lime.local_model import ridge_weights

    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (400, 30)).astype(float)
    y = X @ rng.normal(size=30) + rng.normal(scale=0.1, size=400)
    w = rng.random(400)
    np.testing.assert_allclose(ridge_weights(X, y, w), Ridge(alpha=1.0).fit(X, y, sample_weight=w).coef_,
                               rtol=1e-9, atol=1e-12)
