"""G-LIME: the prior's pull goes from none (LIME) to total (the prior's ranking)."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from conftest import grid_segments
from paddlex_interpret.engine.lime import GLime, LimeImage
from paddlex_interpret.engine.lime.glime import fit_with_prior


def explain(cls, clf, image, **kw):
    return cls(clf, num_samples=200, random_state=0, progress=False, segmentation=grid_segments, **kw).explain(
        image, targets=1)


def test_limits_of_the_prior_force(region_classifier, mosaic):
    lime = explain(LimeImage, region_classifier, mosaic).weights[1]
    prior = np.linspace(1.0, 0.0, 16)  # a prior that ranks superpixel 0 first, 15 last
    strong = explain(GLime, region_classifier, mosaic, prior=prior, prior_reg_force=1e9).weights[1]
    assert spearmanr(strong, prior).statistic > 0.999
    weak = explain(GLime, region_classifier, mosaic, prior=prior, prior_reg_force=1e-9).weights[1]
    assert np.argmax(weak) == np.argmax(lime) == 6
    # the other superpixels carry only noise here, so compare values, not ranks
    assert np.abs(weak - lime).max() < 0.05 * np.abs(lime).max()
    none = explain(GLime, region_classifier, mosaic, prior=prior, prior_method="none").weights[1]
    np.testing.assert_array_equal(none, lime)


def test_prior_callable_gets_image_segments_and_target(region_classifier, mosaic):
    seen = []

    def prior(image, segments, target):
        seen.append((image.shape, int(segments.max()) + 1, target))
        return np.ones(int(segments.max()) + 1)

    exp = explain(GLime, region_classifier, mosaic, prior=prior)
    assert seen == [(mosaic.shape, 16, 1)] and exp.method == "glime"
    assert exp.params["prior_method"] == "ridge" and exp.params["prior_reg_force"] == 1.0


def test_fit_with_prior_errors_and_zero_force_is_least_squares():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (300, 5)).astype(float)
    y = X @ np.array([0.5, -0.2, 0.0, 0.1, 0.3]) + 0.05
    fit = fit_with_prior(X, y, np.ones(300), prior=np.ones(5), reg_force=0.0)
    np.testing.assert_allclose(fit.weights, [0.5, -0.2, 0.0, 0.1, 0.3], atol=1e-9)
    assert fit.score == pytest.approx(1.0) and fit.intercept == pytest.approx(0.05)
    with pytest.raises(ValueError, match="one weight per superpixel"):
        fit_with_prior(X, y, np.ones(300), prior=np.ones(4), reg_force=1.0)


def test_ridge_without_prior_is_refused(region_classifier):
    with pytest.raises(ValueError, match="needs a prior"):
        GLime(region_classifier, prior=None)
    with pytest.raises(ValueError, match="prior_method must be one of"):
        GLime(region_classifier, prior=np.ones(3), prior_method="lasso")
