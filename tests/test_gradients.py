"""SmoothGrad, Integrated Gradients and GradientSHAP: completeness on the real demo model,
known answers on a linear model, independence from batch size and batch composition, model
state left alone, and argument errors."""
import numpy as np
import paddle
import pytest

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.gradients import GradientShap, IntegratedGradients, SmoothGrad
from paddlex_interpret.engine.gradients._core import input_gradients, noise_scales, random_baseline, sample_rng
from paddlex_interpret.engine.gradients.integrated_gradients import path_points
from paddlex_interpret.models import PaddleLayerClassifier

RAW = ImagePreprocess(resize_short=None, crop_size=None)
METHODS = {
    "smoothgrad": lambda clf, **kw: SmoothGrad(clf, n_samples=6, **kw),
    "intgrad": lambda clf, **kw: IntegratedGradients(clf, steps=4, baselines="random", num_random_trials=2, **kw),
    "gradshap": lambda clf, **kw: GradientShap(clf, n_samples=6, baselines="random", **kw),
}


class LinearNet(paddle.nn.Layer):
    def __init__(self, size=8, num_classes=3):
        super().__init__()
        paddle.seed(11)
        self.fc = paddle.nn.Linear(3 * size * size, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


@pytest.fixture
def cnn_classifier(small_cnn):
    return PaddleLayerClassifier(small_cnn, preprocess=RAW)


@pytest.fixture
def tiny_images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8)


# -- (1) completeness on the real network ----------------------------------------------------------
def test_integrated_gradients_completeness_on_demo_model(demo_model, demo_images):
    image = demo_model.image_as_explained(demo_images["coffee"])
    x = demo_model.preprocess(image[None])
    target = int(np.argmax(demo_model.predict_proba(image[None])[0]))
    ig = IntegratedGradients(demo_model, steps=200, gradient_of="logit", batch_size=50)
    attribution = ig.attribute(image, [target])
    assert attribution.shape == (1, 3, 224, 224) and attribution.dtype == np.float32

    _, f_x = input_gradients(demo_model, x, [target], "logit")
    _, f_b = input_gradients(demo_model, np.zeros_like(x), [target], "logit")
    gap = float(f_x[0] - f_b[0])
    assert abs(gap) > 1.0
    assert abs(float(attribution.astype(np.float64).sum()) - gap) <= 0.01 * abs(gap)
    assert ig.params() == {"steps": 200, "baselines": None, "num_random_trials": 10, "gradient_of": "logit",
                           "batch_size": 50, "random_state": ig.last_seed}


# -- (2) batch size and seeds -------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(METHODS))
def test_results_do_not_depend_on_batch_size(name, cnn_classifier, tiny_images):
    results = [METHODS[name](cnn_classifier, batch_size=b, random_state=5).attribute(tiny_images, [1, 3])
               for b in (1, 7, 50)]
    assert results[0].shape == (2, 3, 16, 16)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-5, atol=1e-7 * np.abs(results[0]).max())
    different = METHODS[name](cnn_classifier, batch_size=7, random_state=6).attribute(tiny_images, [1, 3])
    assert not np.allclose(different, results[0], rtol=1e-3, atol=0)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_seed_is_recorded_and_reproduces(name, cnn_classifier, tiny_images):
    method = METHODS[name](cnn_classifier)
    first = method.attribute(tiny_images[:1], 0)
    seed = method.params()["random_state"]
    assert isinstance(seed, int)
    again = METHODS[name](cnn_classifier, random_state=seed).attribute(tiny_images[:1], 0)
    np.testing.assert_array_equal(again, first)


# -- (3) known answers on a linear model ---------------------------------------------------------------
def test_linear_model_known_answers():
    net = LinearNet()
    clf = PaddleLayerClassifier(net, preprocess=RAW)
    image = np.random.default_rng(1).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    clf.predict_proba(image[None])  # settles num_classes (the adapter would otherwise probe at 224x224)
    x = RAW(image[None])[0].astype(np.float64)
    target = 2
    w = net.fc.weight.numpy()[:, target].reshape(3, 8, 8).astype(np.float64)

    ig = IntegratedGradients(clf, steps=3, gradient_of="logit").attribute(image, target)[0]
    np.testing.assert_allclose(ig, x * w, rtol=1e-5, atol=1e-6)
    sg = SmoothGrad(clf, n_samples=4, noise_amount=0.3, gradient_of="logit", random_state=0).attribute(image, target)[0]
    np.testing.assert_allclose(sg, w, rtol=1e-5, atol=1e-7)

    # GradientSHAP on a linear model: mean_k w * (x + noise_k - b); with no noise exactly (x - b) * w
    baseline = np.full((8, 8, 3), 100, dtype=np.uint8)
    b = RAW(baseline[None])[0].astype(np.float64)
    gs = GradientShap(clf, n_samples=3, noise_amount=0.0, baselines=baseline, gradient_of="logit")
    gs = gs.attribute(image, target)[0]
    np.testing.assert_allclose(gs, (x - b) * w, rtol=1e-5, atol=1e-6)
    # IG with a pixel-space baseline: completeness is exact for a linear logit
    ig_b = IntegratedGradients(clf, steps=2, baselines=baseline, gradient_of="logit").attribute(image, target)[0]
    np.testing.assert_allclose(ig_b, (x - b) * w, rtol=1e-5, atol=1e-6)

    # the documented draws: random IG baselines b_t from sample_rng(seed, t); GradientSHAP's
    # sample k draws alpha, then the noise z_k, from sample_rng(seed, k)
    b_t = np.stack([random_baseline(clf, sample_rng(4, t), (8, 8)) for t in range(3)]).astype(np.float64)
    ig_r = IntegratedGradients(clf, steps=2, baselines="random", num_random_trials=3, gradient_of="logit",
                               random_state=4).attribute(image, target)[0]
    np.testing.assert_allclose(ig_r, (x - b_t.mean(axis=0)) * w, rtol=1e-4, atol=1e-5)
    sigma = float(noise_scales(RAW(image[None]), 0.2)[0])
    z = []
    for k in range(3):
        rng = sample_rng(8, k)
        rng.random()
        z.append(rng.standard_normal((3, 8, 8), dtype=np.float32))
    gs_n = GradientShap(clf, n_samples=3, noise_amount=0.2, baselines=baseline, gradient_of="logit",
                        random_state=8).attribute(image, target)[0]
    np.testing.assert_allclose(gs_n, (x + sigma * np.mean(z, axis=0) - b) * w, rtol=1e-4, atol=1e-5)


def test_path_points():
    for steps in (1, 7, 50):
        alphas, weights = path_points(steps)
        assert len(alphas) == len(weights) == steps
        assert abs(weights.sum() - 1) < 1e-12 and np.all(np.diff(alphas) > 0) and 0 < alphas[0] and alphas[-1] < 1
    alphas, weights = path_points(4, exponent=1)  # the uniform midpoint rule
    np.testing.assert_allclose(alphas, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(weights, 0.25)


# -- (4) batch composition --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(METHODS))
def test_batch_equals_images_alone(name, cnn_classifier, tiny_images):
    together = METHODS[name](cnn_classifier, batch_size=5, random_state=2).attribute(tiny_images, [4, 0])
    for i, target in enumerate([4, 0]):
        alone = METHODS[name](cnn_classifier, batch_size=5, random_state=2).attribute(tiny_images[i], target)
        np.testing.assert_allclose(alone[0], together[i], rtol=1e-5, atol=1e-7 * np.abs(together[i]).max())


def test_per_image_baselines(cnn_classifier, tiny_images):
    baselines = np.stack([np.full((16, 16, 3), v, dtype=np.uint8) for v in (0, 200)])
    both = IntegratedGradients(cnn_classifier, steps=3, baselines=baselines).attribute(tiny_images, 1)
    second = IntegratedGradients(cnn_classifier, steps=3, baselines=baselines[1].astype(float)).attribute(
        tiny_images[1], 1)
    np.testing.assert_allclose(both[1], second[0], rtol=1e-5, atol=1e-7 * np.abs(second).max())


# -- (5) the model is left alone; bad arguments -------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(METHODS))
def test_model_state_untouched(name, small_cnn, tiny_images):
    small_cnn.train()
    small_cnn.features[1].eval()  # a mixed state must come back as it was
    flags = [sub.training for sub in small_cnn.sublayers(include_self=True)]
    state = {k: v.numpy().copy() for k, v in small_cnn.state_dict().items()}
    clf = PaddleLayerClassifier(small_cnn, preprocess=RAW)
    METHODS[name](clf, batch_size=4, random_state=0).attribute(tiny_images, [0, 1])
    assert [sub.training for sub in small_cnn.sublayers(include_self=True)] == flags
    for k, v in small_cnn.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k], err_msg=k)
    assert all(p.grad is None for p in small_cnn.parameters())


@pytest.mark.parametrize("cls, kwargs, argument", [
    (SmoothGrad, {"n_samples": 0}, "n_samples"),
    (GradientShap, {"n_samples": 0}, "n_samples"),
    (SmoothGrad, {"gradient_of": "prob"}, "gradient_of"),
    (IntegratedGradients, {"gradient_of": "prob"}, "gradient_of"),
    (GradientShap, {"gradient_of": "prob"}, "gradient_of"),
    (IntegratedGradients, {"steps": 0}, "steps"),
    (IntegratedGradients, {"num_random_trials": 0}, "num_random_trials"),
    (IntegratedGradients, {"batch_size": 0}, "batch_size"),
    (SmoothGrad, {"noise_amount": -0.1}, "noise_amount"),
    (GradientShap, {"noise_amount": "big"}, "noise_amount"),
    (SmoothGrad, {"random_state": -1}, "random_state"),
    (IntegratedGradients, {"baselines": "zeros"}, "baselines"),
    (IntegratedGradients, {"baselines": np.zeros((16, 16))}, "baselines"),
    (GradientShap, {"baselines": np.full((16, 16, 3), 300.0)}, "baselines"),
])
def test_bad_arguments_name_the_argument(cls, kwargs, argument, cnn_classifier):
    with pytest.raises((ValueError, TypeError), match=argument):
        cls(cnn_classifier, **kwargs)


@pytest.mark.parametrize("cls", [IntegratedGradients, GradientShap])
def test_baselines_of_the_wrong_size_or_count(cls, cnn_classifier, tiny_images):
    with pytest.raises(ValueError, match="baselines"):
        cls(cnn_classifier, baselines=np.zeros((8, 8, 3), np.uint8)).attribute(tiny_images, 0)
    with pytest.raises(ValueError, match="baselines"):
        cls(cnn_classifier, baselines=np.zeros((3, 16, 16, 3), np.uint8)).attribute(tiny_images, 0)


def test_explain_records_params(cnn_classifier, tiny_images):
    explanation = GradientShap(cnn_classifier, n_samples=2, random_state=9).explain(tiny_images[0])
    assert explanation.method == "gradshap" and explanation.attribution.shape == (3, 16, 16)
    assert explanation.params == {"n_samples": 2, "noise_amount": 0.1, "baselines": None,
                                  "gradient_of": "probability", "batch_size": 25, "random_state": 9}
