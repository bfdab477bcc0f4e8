"""Pointing game (bbox / mask) and Adebayo et al. sanity checks (model and label randomisation)."""
import numpy as np
import paddle
import pytest

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.explanation import PixelExplanation, SuperpixelExplanation
from paddlex_interpret.evaluate import get_metric
from paddlex_interpret.evaluate.point_game import PointGame, PointGameSegmentation
from paddlex_interpret.evaluate.sanity import (DataRandomizationCheck, ModelParameterRandomization,
                                               randomization_groups)
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.models.base import Classifier


def pixel_exp(attribution, image=None):
    attribution = np.asarray(attribution, dtype=np.float64)
    h, w = attribution.shape[-2:]
    image = np.zeros((h, w, 3), np.uint8) if image is None else image
    return PixelExplanation(method="test", image=image, attribution=attribution, target=0, label_name="0",
                            probability=0.5)


# -- pointing game -----------------------------------------------------------------------------------
H, W = 40, 60
BOX = (10, 5, 30, 25)  # x1, y1, x2, y2 -> rows 5..24, columns 10..29


def box_map(value_inside=1.0, value_outside=0.0):
    m = np.full((H, W), value_outside)
    m[5:25, 10:30] = value_inside
    return m


def test_registered_with_scope():
    pg, seg = get_metric("point_game"), get_metric("point_game_segmentation")
    assert pg is PointGame and seg is PointGameSegmentation
    assert pg.needs == ("bbox",) and seg.needs == ("mask",)
    assert not pg.needs_model and not seg.needs_model and pg.higher_is_better
    assert get_metric("model_randomization") is ModelParameterRandomization
    assert not ModelParameterRandomization.higher_is_better


def test_all_mass_inside_box_is_perfect():
    # a gradient-style (3, H, W) attribution: ranking map = |a| summed over channels
    a = np.zeros((3, H, W))
    a[:, 8:20, 12:25] = -np.random.default_rng(0).uniform(0.5, 1.0, size=(3, 12, 13))
    r = PointGame().evaluate(pixel_exp(a), bbox=BOX)
    assert r.details["precision"] == 1.0 and r.details["hit"]
    assert 0 < r.details["recall"] < 1 and r.score == pytest.approx(r.details["f1_score"])
    # 156 of the 400 box pixels rank first; the other 244 tie with the 2000 outside: AUC = (156 + 244 / 2) / 400
    assert r.details["auc_score"] == pytest.approx((156 + 244 / 2) / 400)

    perfect = PointGame().evaluate(pixel_exp(box_map()), bbox=BOX)
    d = perfect.details
    assert d["precision"] == d["recall"] == d["f1_score"] == perfect.score == 1.0
    assert d["auc_score"] == 1.0 and d["ap_score"] == 1.0


def test_map_outside_box_scores_zero():
    r = PointGame().evaluate(pixel_exp(box_map(0.0, 1.0)), bbox=BOX)
    assert r.details["precision"] == 0.0 and r.details["recall"] == 0.0 and r.score == 0.0
    assert r.details["auc_score"] == 0.0 and not r.details["hit"]


def test_threshold_and_bbox_convention():
    m = box_map(1.0, 0.0)
    m[0, 0] = 0.3  # above 0.25 * max, outside the box
    assert PointGame().evaluate(pixel_exp(m), bbox=BOX).details["precision"] < 1
    assert PointGame(threshold=0.5).evaluate(pixel_exp(m), bbox=BOX).details["precision"] == 1.0
    # x is the column, y the row, end excluded: a one-pixel box at (row 2, column 7)
    m = np.zeros((H, W))
    m[2, 7] = 1
    r = PointGame().evaluate(m, bbox=(7, 2, 8, 3))  # a raw (H, W) array works too
    assert r.score == 1.0 and r.details["auc_score"] == 1.0
    with pytest.raises(ValueError):
        PointGame(threshold=1.5)


def test_superpixel_explanation():
    segments = np.zeros((H, W), np.int32)
    segments[5:25, 10:30] = 1
    exp = SuperpixelExplanation(method="lime", image=np.zeros((H, W, 3), np.uint8), segments=segments, targets=[3],
                                weights={3: np.array([-0.2, 0.9])}, label_names={3: "x"}, probabilities={3: 0.9})
    r = PointGame().evaluate(exp, bbox=BOX)
    assert r.score == 1.0 and r.details["auc_score"] == 1.0


@pytest.mark.parametrize("bbox", [(10, 5, 61, 25), (-1, 5, 30, 25), (10, 5, 30, 41), (30, 5, 10, 25), (10, 5, 10, 25)])
def test_box_outside_image_is_an_error(bbox):
    with pytest.raises(ValueError, match="bbox"):
        PointGame().evaluate(pixel_exp(box_map()), bbox=bbox)


def test_bad_box_arguments():
    with pytest.raises(ValueError, match="needs bbox"):
        PointGame().evaluate(pixel_exp(box_map()))
    with pytest.raises(ValueError, match="4 values"):
        PointGame().evaluate(pixel_exp(box_map()), bbox=(1, 2, 3))
    with pytest.raises(ValueError, match="integer"):
        PointGame().evaluate(pixel_exp(box_map()), bbox=(1.5, 2, 30, 20))


def test_mask_version():
    mask = np.zeros((H, W), bool)
    mask[5:25, 10:30] = True
    inside = PointGameSegmentation().evaluate(pixel_exp(box_map()), mask=mask)
    assert inside.details["precision"] == inside.details["recall"] == inside.score == 1.0
    assert inside.details["auc_score"] == 1.0
    outside = PointGameSegmentation().evaluate(pixel_exp(box_map(0.0, 1.0)), mask=mask.astype(np.uint8))
    assert outside.details["precision"] == 0.0 and outside.details["recall"] == 0.0 and outside.score == 0.0
    partial = np.zeros((H, W))
    partial[5:15, 10:20] = 1
    r = PointGameSegmentation().evaluate(pixel_exp(partial), mask=mask)
    assert r.details["precision"] == 1.0 and r.details["recall"] == pytest.approx(0.25)
    assert r.details["auc_score"] < 1.0


def test_mask_errors():
    with pytest.raises(ValueError, match="shape"):
        PointGameSegmentation().evaluate(pixel_exp(box_map()), mask=np.ones((W, H), bool))
    with pytest.raises(ValueError, match="binary"):
        PointGameSegmentation().evaluate(pixel_exp(box_map()), mask=np.full((H, W), 2))
    with pytest.raises(ValueError, match="no positive"):
        PointGameSegmentation().evaluate(pixel_exp(box_map()), mask=np.zeros((H, W), bool))


# -- model parameter randomisation ------------------------------------------------------------------
class EdgeMap:
    """A "method" that ignores the model: the Sobel edge magnitude of the image."""

    def __init__(self, classifier):
        self.classifier = classifier

    def explain(self, image, target):
        from skimage.color import rgb2gray
        from skimage.filters import sobel

        return PixelExplanation(method="edges", image=image, attribution=sobel(rgb2gray(image)), target=int(target),
                                label_name=str(target), probability=0.0)


def snapshot(network):
    return {k: v.numpy().copy() for k, v in network.state_dict().items()}


def assert_unchanged(network, before):
    after = network.state_dict()
    assert set(after) == set(before)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k].numpy(), v, err_msg=k)


def test_groups_of_the_demo_network(demo_model):
    net = demo_model.network
    top = [n for n, _ in randomization_groups(net, "top")]
    assert top == ["_fc", "_bn1", "_conv_head", "_blocks", "_bn0", "_conv_stem"]
    block = [n for n, _ in randomization_groups(net, "block")]
    assert block[:4] == ["_fc", "_bn1", "_conv_head", "_blocks.15"] and block[-1] == "_conv_stem"
    assert len(block) == 21
    leaf = [n for n, _ in randomization_groups(net, "leaf")]
    assert leaf[:3] == ["_fc", "_bn1", "_conv_head"] and leaf[3].startswith("_blocks.15.")
    assert [n for n, _ in randomization_groups(net, layers=["_fc", "_blocks.3"])] == ["_fc", "_blocks.3"]
    with pytest.raises(ValueError, match="not found"):
        randomization_groups(net, layers=["nope"])
    with pytest.raises(ValueError, match="granularity"):
        ModelParameterRandomization(EdgeMap, granularity="layer")


def test_gradient_maps_change_edge_maps_do_not(demo_model, demo_images):
    from paddlex_interpret.engine.gradients import SmoothGrad

    image = demo_model.image_as_explained(demo_images["chelsea"])
    before = snapshot(demo_model.network)

    grad = ModelParameterRandomization(lambda c: SmoothGrad(c, n_samples=3, random_state=0),
                                       granularity="top").check(demo_model, image)
    d = grad.details
    assert d["layers"] == ["_fc", "_bn1", "_conv_head", "_blocks", "_bn0", "_conv_stem"]
    assert d["spearman"].shape == d["ssim"].shape == (6,)
    assert grad.score == d["spearman"][-1] < 0.5 and not grad.higher_is_better
    assert np.all(d["spearman"] < 0.8) and d["ssim"][-1] < 0.5
    assert d["target"] == 282 and d["probability"][-1] < 0.05  # the tiger cat is gone

    edges = ModelParameterRandomization(EdgeMap, granularity="top").check(demo_model, image)
    np.testing.assert_allclose(edges.details["spearman"], 1.0, atol=1e-9)
    np.testing.assert_allclose(edges.details["ssim"], 1.0, atol=1e-9)
    assert edges.score > 0.99

    assert_unchanged(demo_model.network, before)  # everything ran on a deep copy


def test_independent_randomisation_on_small_cnn(small_cnn):
    from paddlex_interpret.engine.gradients import SmoothGrad

    clf = PaddleLayerClassifier(small_cnn, preprocess=ImagePreprocess(resize_short=None, crop_size=None))
    image = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    before = snapshot(small_cnn)
    training = [(s, s.training) for s in small_cnn.sublayers(include_self=True)]
    factory = lambda c: SmoothGrad(c, n_samples=2, random_state=0)  # noqa: E731
    check = ModelParameterRandomization(factory, cascading=False, granularity="leaf", keep_maps=True,
                                        similarity=("spearman", "spearman_signed", "ssim", "hog"))
    exp = factory(clf).explain(image, 1)
    r = check.evaluate(exp, clf)  # image and target taken from the explanation
    d = r.details
    assert d["layers"] == ["fc", "features.4", "features.1", "features.0"] and d["target"] == 1
    assert d["maps"].shape == (4, 32, 32)
    assert r.score == pytest.approx(np.mean(d["spearman"]))
    assert all(np.all(np.isfinite(d[s])) for s in d["similarity"])
    assert np.all(d["spearman"] < 0.99)
    # independent steps are independent: the same layer alone gives the same map as step 0
    alone = ModelParameterRandomization(factory, layers=["fc"], keep_maps=True).evaluate(exp, clf)
    np.testing.assert_allclose(alone.details["maps"][0], d["maps"][0], rtol=1e-5, atol=1e-9)
    again = check.evaluate(exp, clf)
    np.testing.assert_array_equal(again.details["spearman"], d["spearman"])  # seeded
    assert_unchanged(small_cnn, before)
    assert [(s, s.training) for s in small_cnn.sublayers(include_self=True)] == training


def test_model_randomization_argument_errors(small_cnn):
    clf = PaddleLayerClassifier(small_cnn, preprocess=ImagePreprocess(resize_short=None, crop_size=None))
    with pytest.raises(TypeError, match="method_factory"):
        ModelParameterRandomization("smoothgrad")
    with pytest.raises(ValueError, match="similarity"):
        ModelParameterRandomization(EdgeMap, similarity=("pearson",))
    with pytest.raises(ValueError, match="classifier"):
        ModelParameterRandomization(EdgeMap).evaluate(pixel_exp(np.zeros((8, 8))))

    class NotPaddle(Classifier):  # a Classifier without a network to copy
        num_classes = 5
        preprocess = clf.preprocess

        def predict_proba(self, images, batch_size=50):
            return np.full((len(images), 5), 0.2)

    with pytest.raises(TypeError, match="PaddleLayerClassifier"):
        ModelParameterRandomization(EdgeMap).check(NotPaddle(), np.zeros((8, 8, 3), np.uint8))


def test_constant_map_gives_nan_with_warning(small_cnn):
    clf = PaddleLayerClassifier(small_cnn, preprocess=ImagePreprocess(resize_short=None, crop_size=None))

    class Flat(EdgeMap):
        def explain(self, image, target):
            return pixel_exp(np.zeros(image.shape[:2]), image=image)

    with pytest.warns(RuntimeWarning, match="undefined"):
        r = ModelParameterRandomization(Flat, granularity="top").check(clf, np.zeros((16, 16, 3), np.uint8), 0)
    assert np.isnan(r.score) and np.all(np.isnan(r.details["spearman"]))


# -- data (label) randomisation ---------------------------------------------------------------------
class DigitNet(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = paddle.nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = paddle.nn.Conv2D(8, 16, 3, padding=1)
        self.pool = paddle.nn.MaxPool2D(2)
        self.fc = paddle.nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        x = self.pool(paddle.nn.functional.relu(self.conv1(x)))
        x = self.pool(paddle.nn.functional.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8x8 digits as 32x32 grey RGB uint8 images, and a cached trainer (1 epoch of Adam)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    small = (data.images / 16.0 * 255).round().astype(np.uint8)
    images = np.repeat(np.kron(small, np.ones((4, 4), np.uint8))[..., None], 3, axis=-1)
    preprocess = ImagePreprocess(resize_short=None, crop_size=None, mean=(0.5,) * 3, std=(0.5,) * 3)
    cache, calls = {}, []

    def train_fn(shuffle_labels):
        calls.append(shuffle_labels)
        if shuffle_labels in cache:
            return cache[shuffle_labels]
        paddle.seed(0)  # the same initialisation and batch order for both models
        net = DigitNet()
        labels = np.random.default_rng(1).permutation(data.target) if shuffle_labels else data.target
        opt = paddle.optimizer.Adam(learning_rate=3e-3, parameters=net.parameters())
        x = preprocess(images)
        order = np.random.default_rng(2).permutation(len(x))
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            loss = paddle.nn.functional.cross_entropy(net(paddle.to_tensor(x[idx])), paddle.to_tensor(labels[idx]))
            loss.backward()
            opt.step()
            opt.clear_grad()
        net.eval()
        cache[shuffle_labels] = PaddleLayerClassifier(net, preprocess=preprocess, labels=[str(i) for i in range(10)],
                                                      output="logits")
        return cache[shuffle_labels]

    return images, data.target, train_fn, calls


def test_label_randomisation_on_digits(digits):
    from paddlex_interpret.engine.gradients import SmoothGrad

    images, target, train_fn, calls = digits
    sample = images[:6]
    grad = DataRandomizationCheck(lambda c: SmoothGrad(c, n_samples=8, random_state=0), train_fn).check(sample)
    assert calls == [False, True]
    d = grad.details
    # the true-label model learnt the digits, the shuffled one did not
    assert np.mean(train_fn(False).predict_proba(images).argmax(1) == target) > 0.8
    np.testing.assert_array_equal(d["targets"], train_fn(False).predict_proba(sample).argmax(1))
    assert np.all(d["probability_true_labels"] > d["probability_shuffled_labels"])
    assert d["spearman"].shape == (6,) and grad.score == pytest.approx(np.mean(d["spearman"]))
    assert grad.score < 0.6 and not grad.higher_is_better

    edges = DataRandomizationCheck(EdgeMap, train_fn).check(sample, targets=3)
    np.testing.assert_allclose(edges.details["spearman"], 1.0, atol=1e-9)
    assert list(edges.details["targets"]) == [3] * 6

    one = DataRandomizationCheck(EdgeMap, train_fn).evaluate(pixel_exp(np.zeros((32, 32)), image=images[0]))
    assert one.details["targets"].tolist() == [0] and one.score == pytest.approx(1.0)


def test_data_randomization_errors(digits):
    images, _, train_fn, _ = digits
    with pytest.raises(TypeError, match="train_fn"):
        DataRandomizationCheck(EdgeMap, "not callable")
    with pytest.raises(TypeError, match="Classifier"):
        DataRandomizationCheck(EdgeMap, lambda shuffle: object()).check(images[:1])
    with pytest.raises(ValueError, match="targets"):
        DataRandomizationCheck(EdgeMap, train_fn).check(images[:2], targets=[1])
    assert get_metric("data_randomization") is DataRandomizationCheck
