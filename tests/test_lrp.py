"""LRP: rules checked against hand-written formulas, conservation, LRP-0 = gradient x input on
ReLU networks, batch-norm folding, sign of z+, real networks, relprop models, no trace left."""
import numpy as np
import paddle
import pytest
from paddle import nn

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.lrp import LRP
from paddlex_interpret.models import PaddleLayerClassifier

# The tests' images already have the size (crop = identity; it also sets the size probed by num_classes)
RAW = ImagePreprocess(resize_short=None, crop_size=16)
TINY_IMAGES = ImagePreprocess(resize_short=None, crop_size=2)


def classifier(net, preprocess=RAW):
    return PaddleLayerClassifier(net, preprocess=preprocess, output="logits")


def images(n=2, size=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.uint8)


def logits_and_gxi(clf, imgs, targets):
    """Target logits and gradient x input, computed directly with paddle.grad."""
    x = paddle.to_tensor(clf.preprocess(imgs), stop_gradient=False)
    with clf.eval_context():
        out = clf.forward(x)
    chosen = (out * nn.functional.one_hot(paddle.to_tensor(targets), out.shape[1])).sum(axis=1)
    (grad,) = paddle.grad(chosen.sum(), [x])
    return chosen.numpy(), (x * grad).numpy()


def positive_targets(clf, imgs):
    """Per image, the class with the largest logit (positive for the nets used here)."""
    x = paddle.to_tensor(clf.preprocess(imgs))
    with paddle.no_grad(), clf.eval_context():
        out = clf.forward(x).numpy()
    assert np.all(out.max(axis=1) > 0)
    return out.argmax(axis=1)


class BiasFreeReLUNet(nn.Layer):
    """Conv (plain, grouped, depthwise), ReLU, max and average pooling, a residual add, Linear."""

    def __init__(self, bias=False, num_classes=5):
        super().__init__()
        paddle.seed(11)
        b = None if bias else False
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1, bias_attr=b)
        self.pool = nn.MaxPool2D(2)
        self.conv2 = nn.Conv2D(8, 8, 3, padding=1, groups=2, bias_attr=b)
        self.conv3 = nn.Conv2D(8, 8, 3, padding=1, groups=8, bias_attr=b)
        self.relu = nn.ReLU()
        self.avg = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(8, num_classes, bias_attr=b)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x)) + x
        return self.fc(paddle.flatten(self.avg(x), 1))


@pytest.mark.parametrize("kw", [dict(rule="epsilon", epsilon=1e-6), dict(rule="epsilon", epsilon=1e-7,
                                                                          relative_epsilon=False),
                                dict(rule="zplus"), dict(rule="zplus", input_rule="zb")])
def test_conservation_on_a_bias_free_relu_network(kw):
    clf = classifier(BiasFreeReLUNet())
    imgs = images(3)
    t = positive_targets(clf, imgs)
    logit, _ = logits_and_gxi(clf, imgs, t)
    r = LRP(clf, **kw).attribute(imgs, t)
    assert r.shape == (3, 3, 16, 16) and r.dtype == np.float32
    np.testing.assert_allclose(r.reshape(3, -1).sum(axis=1), logit, rtol=1e-3)


def test_lrp_zero_equals_gradient_times_input_on_relu_networks():
    clf = classifier(BiasFreeReLUNet())
    imgs = images(2)
    t = np.array([0, 3])
    _, gxi = logits_and_gxi(clf, imgs, t)
    r = LRP(clf, epsilon=1e-7).attribute(imgs, t)
    np.testing.assert_allclose(r, gxi, atol=1e-5 * np.abs(gxi).max(), rtol=1e-3)


class MLP(nn.Layer):
    """12 -> 6 -> 3 with biases, on the flattened 2x2 image (signed normalised inputs)."""

    def __init__(self):
        super().__init__()
        paddle.seed(5)
        self.fc1, self.fc2, self.relu = nn.Linear(12, 6), nn.Linear(6, 3), nn.ReLU()
        for fc in (self.fc1, self.fc2):
            fc.bias.set_value(paddle.uniform(fc.bias.shape, min=-0.3, max=0.3))

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(paddle.flatten(x, 1))))


def _epsilon_np(a, w, b, r, eps):
    z = a @ w + b
    return a * ((r / (z + eps * np.where(z >= 0, 1, -1))) @ w.T)


def _alpha_beta_np(a, w, b, r, alpha, beta):
    c = a[:, :, None] * w[None]  # (N, in, out)
    cp, cn = np.clip(c, 0, None), np.clip(c, None, 0)
    dp, dn = cp.sum(1) + np.clip(b, 0, None), cn.sum(1) + np.clip(b, None, 0)
    sp = np.divide(r, dp, out=np.zeros_like(r), where=dp != 0)
    sn = np.divide(r, dn, out=np.zeros_like(r), where=dn != 0)
    return alpha * (cp * sp[:, None]).sum(2) - beta * (cn * sn[:, None]).sum(2)


def _zb_np(x, w, r, low, high):
    c = x[:, :, None] * w[None] - low[:, :, None] * np.clip(w, 0, None) - high[:, :, None] * np.clip(w, None, 0)
    return (c * (r / c.sum(1))[:, None]).sum(2)


@pytest.mark.parametrize("rule", ["epsilon", "alpha_beta", "zb_input"])
def test_rules_match_their_formulas(rule):
    """Against the textbook formulas (Montavon et al. 2019), biases and signed inputs included."""
    net = MLP()
    clf = classifier(net, TINY_IMAGES)
    imgs = images(4, size=2, seed=3)
    x = clf.preprocess(imgs).reshape(4, -1).astype(np.float64)
    w1, b1 = net.fc1.weight.numpy().astype(np.float64), net.fc1.bias.numpy().astype(np.float64)
    w2, b2 = net.fc2.weight.numpy().astype(np.float64), net.fc2.bias.numpy().astype(np.float64)
    a1 = np.maximum(x @ w1 + b1, 0)
    t = np.array([0, 1, 2, 1])
    r2 = np.zeros((4, 3))
    r2[np.arange(4), t] = (a1 @ w2 + b2)[np.arange(4), t]
    if rule == "epsilon":
        method = LRP(clf, rule="epsilon", epsilon=0.05, relative_epsilon=False)
        expected = _epsilon_np(x, w1, b1, _epsilon_np(a1, w2, b2, r2, 0.05), 0.05)
    elif rule == "alpha_beta":
        method = LRP(clf, rule="alpha_beta", alpha=2.0, beta=1.0)
        expected = _alpha_beta_np(x, w1, b1, _alpha_beta_np(a1, w2, b2, r2, 2, 1), 2, 1)
    else:
        method = LRP(clf, rule="zplus", input_rule="zb")
        low = np.broadcast_to(clf.preprocess(np.zeros_like(imgs)).reshape(4, -1), x.shape)
        high = np.broadcast_to(clf.preprocess(np.full_like(imgs, 255)).reshape(4, -1), x.shape)
        expected = _zb_np(x, w1, _alpha_beta_np(a1, w2, b2, r2, 1, 0), low, high)
    r = method.attribute(imgs, t).reshape(4, -1)
    np.testing.assert_allclose(r, expected, rtol=1e-4, atol=1e-6)


class ConvBN(nn.Layer):
    def __init__(self, conv, bn=None):
        super().__init__()
        self.conv, self.bn, self.relu = conv, bn, nn.ReLU6()
        self.avg, self.fc = nn.AdaptiveAvgPool2D(1), nn.Linear(6, 4)

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.fc(paddle.flatten(self.avg(self.relu(x)), 1))


def test_batch_norm_is_folded_into_the_convolution():
    """Conv + BN gives exactly what one conv with the folded weights gives, for every rule."""
    paddle.seed(2)
    conv, bn = nn.Conv2D(3, 6, 3, padding=1), nn.BatchNorm2D(6)
    bn.weight.set_value(paddle.uniform([6], min=-1.5, max=1.5))
    bn.bias.set_value(paddle.uniform([6], min=-0.5, max=0.5))
    bn._mean.set_value(paddle.uniform([6], min=-0.5, max=0.5))
    bn._variance.set_value(paddle.uniform([6], min=0.5, max=2.0))
    with_bn = ConvBN(conv, bn)
    scale = bn.weight.numpy() / np.sqrt(bn._variance.numpy() + bn._epsilon)
    folded = nn.Conv2D(3, 6, 3, padding=1)
    folded.weight.set_value(conv.weight.numpy() * scale[:, None, None, None])
    folded.bias.set_value((conv.bias.numpy() - bn._mean.numpy()) * scale + bn.bias.numpy())
    plain = ConvBN(folded)
    plain.fc = with_bn.fc
    imgs = images(2)
    for kw in (dict(), dict(rule="zplus", input_rule="zb"), dict(rule="alpha_beta", alpha=2.0, beta=1.0)):
        a = LRP(classifier(with_bn), **kw).attribute(imgs, 1)
        b = LRP(classifier(plain), **kw).attribute(imgs, 1)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())


class DenseBN(nn.Layer):
    def __init__(self, fc1, bn=None):
        super().__init__()
        self.fc1, self.bn, self.relu, self.fc2 = fc1, bn, nn.ReLU(), nn.Linear(6, 3)

    def forward(self, x):
        x = self.fc1(paddle.flatten(x, 1))
        return self.fc2(self.relu(self.bn(x) if self.bn is not None else x))


def test_batch_norm_is_folded_into_a_linear_layer():
    paddle.seed(6)
    fc1, bn = nn.Linear(12, 6), nn.BatchNorm1D(6)
    bn.weight.set_value(paddle.uniform([6], min=-1.5, max=1.5))
    bn._mean.set_value(paddle.uniform([6], min=-0.5, max=0.5))
    bn._variance.set_value(paddle.uniform([6], min=0.5, max=2.0))
    with_bn = DenseBN(fc1, bn)
    scale = bn.weight.numpy() / np.sqrt(bn._variance.numpy() + bn._epsilon)
    folded = nn.Linear(12, 6)
    folded.weight.set_value(fc1.weight.numpy() * scale[None, :])
    folded.bias.set_value((fc1.bias.numpy() - bn._mean.numpy()) * scale + bn.bias.numpy())
    plain = DenseBN(folded)
    plain.fc2 = with_bn.fc2
    imgs = images(3, size=2)
    for kw in (dict(), dict(rule="zplus", input_rule="zb")):
        a = LRP(classifier(with_bn, TINY_IMAGES), **kw).attribute(imgs, 2)
        b = LRP(classifier(plain, TINY_IMAGES), **kw).attribute(imgs, 2)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())


class SignedNet(nn.Layer):
    """Biases, a batch norm after a ReLU (an affine layer of its own, negative scales), grouped and
    depthwise convs, ReLU6 and Hardswish, max and average pooling."""

    def __init__(self):
        super().__init__()
        paddle.seed(4)
        self.conv1, self.bn = nn.Conv2D(3, 8, 3, padding=1), nn.BatchNorm2D(8)
        self.bn.weight.set_value(paddle.uniform([8], min=-1.0, max=1.0))
        self.bn.bias.set_value(paddle.uniform([8], min=-0.5, max=0.5))
        self.conv2, self.conv3 = nn.Conv2D(8, 8, 3, padding=1, groups=4), nn.Conv2D(8, 8, 3, groups=8)
        self.relu, self.relu6, self.hsw = nn.ReLU(), nn.ReLU6(), nn.Hardswish()
        self.pool, self.avg, self.fc = nn.MaxPool2D(2), nn.AvgPool2D(2), nn.Linear(8 * 2 * 2, 5)

    def forward(self, x):
        x = self.bn(self.pool(self.relu(self.conv1(x))))
        x = self.avg(self.relu6(self.conv2(x)))
        return self.fc(paddle.flatten(self.hsw(self.conv3(x)), 1))


@pytest.mark.parametrize("input_rule", [None, "zb"])
def test_zplus_relevance_has_the_sign_of_the_target_logit(input_rule):
    """z+ redistributes with non-negative coefficients (a_j w_jk)^+ / sum: every input relevance
    is >= 0 for a positive logit, for signed inputs and biases too (z^B keeps that)."""
    clf = classifier(SignedNet())
    imgs = images(3)
    t = positive_targets(clf, imgs)
    r = LRP(clf, rule="zplus", input_rule=input_rule).attribute(imgs, t)
    assert np.isfinite(r).all()
    assert r.min() >= -1e-7 * r.max() and r.max() > 0
    # the same net with epsilon-LRP has negative relevance: the property is z+'s, not the net's
    assert LRP(clf).attribute(imgs, t).min() < 0


def test_results_do_not_depend_on_the_batch():
    """The relative epsilon is taken per image, so an image's relevance ignores its batch mates."""
    clf = classifier(SignedNet())
    imgs = images(3)
    together = LRP(clf, batch_size=3).attribute(imgs, [0, 1, 2])
    alone = LRP(clf, batch_size=1).attribute(imgs, [0, 1, 2])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-6 * np.abs(alone).max())


@pytest.fixture(scope="module")
def resnet18():
    """paddle.vision's ResNet-18 (BatchNorm, residual adds, max pooling) with random weights (no
    weights can be downloaded); PaddleClas's own ResNet50_vd is tested further down."""
    paddle.seed(1)
    return PaddleLayerClassifier(paddle.vision.models.resnet18(pretrained=False, num_classes=10), output="logits")


@pytest.fixture(scope="module")
def photo(demo_model, demo_images):
    return demo_model.image_as_explained(demo_images["chelsea"])


def _corr(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_resnet18(resnet18, photo):
    """Random init: BN shifts, running means and the fc bias are 0, so the network is bias-free
    and z+ conserves relevance (float32 over 20 layers: 1e-3). LRP-0 is gradient x input (a ReLU
    network); the default epsilon (0.25 RMS) gives a different map that has lost relevance."""
    t = int(np.argmax(resnet18.predict_proba(photo[None])[0]))
    logit, gxi = logits_and_gxi(resnet18, photo[None], [t])
    zplus = LRP(resnet18, rule="zplus").attribute(photo, t)
    assert zplus.shape == (1, 3, 224, 224) and np.isfinite(zplus).all()
    assert zplus.sum() == pytest.approx(logit[0], rel=1e-3)
    lrp0 = LRP(resnet18, epsilon=1e-6).attribute(photo, t)
    assert _corr(lrp0, gxi) > 0.999
    default = LRP(resnet18).attribute(photo, t)
    assert np.isfinite(default).all()
    assert _corr(default, gxi) < 0.9 and _corr(zplus, gxi) < 0.9
    assert 0 < default.sum() < logit[0]


def test_demo_model(demo_model, photo):
    """EfficientNet-Lite0 (BN, depthwise convs, ReLU6, residual adds), real weights. Its BN
    shifts absorb relevance, so sums are not the logit; ReLU6 passes relevance on where it
    saturates (its gradient is 0 there), so even LRP-0 differs from gradient x input."""
    t = int(np.argmax(demo_model.predict_proba(photo[None])[0]))
    logit, gxi = logits_and_gxi(demo_model, photo[None], [t])
    for kw in (dict(), dict(rule="zplus", input_rule="zb"), dict(epsilon=1e-6)):
        r = LRP(demo_model, **kw).attribute(photo, t)
        assert r.shape == (1, 3, 224, 224) and np.isfinite(r).all() and np.abs(r).max() > 0
        assert _corr(r, gxi) < 0.95, kw
        assert abs(r.sum()) < logit[0]


def test_demo_architecture_conserves_relevance_without_biases(demo_model, photo):
    """The demo network with its real weights but every bias removed (BN shifts and running
    means, fc bias): ReLU6 pass-through, folded BN, depthwise convs and residual adds then
    conserve relevance; 1% allows for float32 over ~80 layers and the epsilon of 1e-6 RMS."""
    from paddlex_interpret.models.zoo import EfficientNetLite0

    net = EfficientNetLite0(num_classes=1000)
    state = {k: v.numpy() for k, v in demo_model.network.state_dict().items()}
    for k in state:
        if k.endswith(("_mean", ".bias")) and "_bn" in k or k == "_fc.bias":
            state[k] = np.zeros_like(state[k])
    net.set_state_dict(state)
    clf = PaddleLayerClassifier(net, preprocess=demo_model.preprocess, output="logits")
    t = int(np.argmax(clf.predict_proba(photo[None])[0]))
    logit, _ = logits_and_gxi(clf, photo[None], [t])
    assert logit[0] > 0
    for kw in (dict(epsilon=1e-6), dict(rule="zplus")):
        assert LRP(clf, **kw).attribute(photo, t).sum() == pytest.approx(logit[0], rel=1e-2), kw


class RelpropNet(nn.Layer):
    """InterpretDL-style model: forward caches its input, relprop(R, alpha) maps R back."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        self.cached = x
        return self.fc(paddle.flatten(x, 1))

    def relprop(self, R, alpha):
        self.received = (R.numpy(), alpha)
        return self.cached * R.sum(axis=1).reshape([-1, 1, 1, 1]) * alpha


def test_a_model_with_relprop_is_used_as_is():
    net = RelpropNet()
    clf = classifier(net, TINY_IMAGES)
    imgs = images(2, size=2)
    r = LRP(clf, alpha=2.0).attribute(imgs, [1, 2])
    logits = net(paddle.to_tensor(clf.preprocess(imgs))).numpy()
    R, alpha = net.received
    assert alpha == 2.0
    np.testing.assert_allclose(R, np.where(np.arange(3) == np.array([[1], [2]]), logits, 0), rtol=1e-6)
    np.testing.assert_allclose(r, clf.preprocess(imgs) * logits[[0, 1], [1, 2]][:, None, None, None] * 2,
                               rtol=1e-5)
    assert LRP(clf).params()["backend"] == "model_relprop"
    assert LRP(clf, use_model_relprop=False).params()["backend"] == "rules"


def _snapshot(net):
    return ({k: v.numpy().copy() for k, v in net.state_dict().items()},
            [sub.training for sub in net.sublayers(include_self=True)])


def _assert_untouched(net, before):
    state, modes = _snapshot(net)
    for k, v in before[0].items():
        np.testing.assert_array_equal(state[k], v, err_msg=k)
    assert modes == before[1]
    for sub in net.sublayers(include_self=True):
        assert not sub._forward_post_hooks and not sub._forward_pre_hooks
    assert all(p.grad is None for p in net.parameters())


class FailingNet(SignedNet):
    def __init__(self):
        super().__init__()
        self.fail_at_call, self.calls = None, 0

    def forward(self, x):
        self.calls += 1
        out = super().forward(x)
        if self.calls == self.fail_at_call:
            raise RuntimeError("boom")
        return out


@pytest.mark.parametrize("kw", [dict(), dict(rule="zplus", input_rule="zb")])
def test_model_left_as_it_was(kw):
    """Weights, BN running statistics, train/eval flags, no hooks, no gradients; also when the
    forward raises (in the tracing pass, in the LRP pass)."""
    net = SignedNet()
    net.train()
    net.bn.eval()  # a mixed state must come back as it was
    clf = classifier(net)
    before = _snapshot(net)
    LRP(clf, **kw).attribute(images(2), [0, 1])
    _assert_untouched(net, before)
    for fail_at in (1, 2):  # call 1 traces the structure, call 2 is the LRP pass
        net = FailingNet()
        net.train()
        clf = classifier(net)
        assert clf.num_classes == 5  # its probing forward happens now, not in attribute()
        net.calls, net.fail_at_call = 0, fail_at
        before = _snapshot(net)
        with pytest.raises(RuntimeError, match="boom"):
            LRP(clf, **kw).attribute(images(1), [0])
        assert net.calls == fail_at
        _assert_untouched(net, before)


def test_explain_and_argument_errors(small_cnn, mosaic):
    clf = classifier(small_cnn)
    exp = LRP(clf, rule="zplus").explain(mosaic)
    assert exp.method == "lrp" and exp.attribution.shape == (3, 64, 64)
    assert exp.params["rule"] == "zplus" and exp.params["backend"] == "rules"
    with pytest.raises(ValueError, match="rule"):
        LRP(clf, rule="gamma")
    with pytest.raises(ValueError, match="input_rule"):
        LRP(clf, input_rule="flat")
    with pytest.raises(ValueError, match="alpha - beta"):
        LRP(clf, rule="alpha_beta", alpha=2.0, beta=0.5)
    with pytest.raises(ValueError, match="epsilon"):
        LRP(clf, epsilon=-1.0)


# --- hardening: LRP's map must beat random maps; a real PaddleClas architecture ---------------------

CAT_CLASSES = slice(281, 286)  # ImageNet's domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian cat
DELETION_FRACTIONS = np.linspace(0.05, 0.95, 10)


def _deletion_cat_mass(clf, photo, ranking):
    """Mean total probability of the cat classes over a deletion curve: for each fraction f, the
    f most relevant pixels of ``ranking`` (H, W) set to grey 127 (lower = the ranking found what
    the cat classes rely on)."""
    images = []
    for f in DELETION_FRACTIONS:
        deleted = photo.copy()
        deleted[ranking >= np.quantile(ranking, 1 - f)] = 127
        images.append(deleted)
    probs = clf.predict_proba(np.stack(images), batch_size=len(images))
    return float(probs[:, CAT_CLASSES].sum(axis=1).mean())


def test_demo_model_lrp_finds_what_the_cat_classes_use(demo_model, photo):
    """Deleting (grey 127) chelsea's pixels in the order of LRP's map (default epsilon rule, channel
    sum, most positive first) destroys the cat classes' probability far faster than random maps do:
    16 seeded smooth maps (7x7 uniform noise, bilinear upsampling) and i.i.d. per-pixel noise maps
    (scattered deletions hurt a CNN more than blobs, so they are the stricter baseline).
    Measured (Paddle 3.3, CPU): mean cat mass over the curve 0.112 for LRP; smooth random maps mean
    0.784 (0.691..0.875); per-pixel random maps 0.345, 0.365, 0.303; the photo itself 0.912. Keeping only
    the top 15% of pixels instead does not separate (LRP 0.20 vs random smooth 0.40 +- 0.32)."""
    import cv2

    t = int(np.argmax(demo_model.predict_proba(photo[None])[0]))
    assert CAT_CLASSES.start <= t < CAT_CLASSES.stop
    relevance = LRP(demo_model).attribute(photo, t)[0].sum(axis=0)
    lrp = _deletion_cat_mass(demo_model, photo, relevance)
    h, w = photo.shape[:2]
    smooth = [_deletion_cat_mass(demo_model, photo, cv2.resize(
        np.random.default_rng(seed).random((7, 7)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR))
        for seed in range(16)]
    pixelwise = [_deletion_cat_mass(demo_model, photo, np.random.default_rng(100 + seed).random((h, w)))
                 for seed in range(3)]
    assert lrp < 0.2, lrp
    assert np.mean(smooth) > 0.6 and lrp < 0.3 * np.mean(smooth), (lrp, smooth)
    assert lrp < 0.6 * min(pixelwise), (lrp, pixelwise)


@pytest.fixture(scope="module")
def resnet50_vd():
    """PaddleClas's ResNet50_vd (legacy ``nn.BatchNorm`` after every conv, bottleneck residual
    additions, the 'vd' average-pooling shortcuts with SAME padding and ceil mode, max pooling, an
    adaptive average pool) with random weights. Batch-norm scales and running variances are drawn
    at random so that folding them matters; their shifts and running means and the fc bias stay
    0 (PaddleClas's init): the network is then bias-free."""
    from paddle import nn as pnn
    from paddleclas.ppcls.arch.backbone import ResNet50_vd

    paddle.seed(0)
    net = ResNet50_vd(pretrained=False, class_num=10)
    rng = np.random.default_rng(0)
    norms = [sub for sub in net.sublayers() if isinstance(sub, pnn.BatchNorm)]
    assert len(norms) == 55
    for bn in norms:
        c = bn.weight.shape[0]
        bn.weight.set_value(rng.uniform(0.5, 1.5, c).astype("float32"))
        bn._variance.set_value(rng.uniform(0.5, 2.0, c).astype("float32"))
        assert not bn.bias.numpy().any() and not bn._mean.numpy().any()
    assert not net.fc.bias.numpy().any()
    return PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=96, crop_size=96), output="logits")


def test_paddleclas_resnet50_vd_conserves_relevance_and_lrp0_is_gradient_times_input(resnet50_vd):
    """On the bias-free ResNet50_vd the epsilon rule with a tiny epsilon (and z+) conserve relevance:
    the input relevance sums to the target logit (the class docstring's ``R.sum() == logit``). It
    is a ReLU network, so LRP-0 is gradient x input, which needs the folded batch norms, the max
    pooling's winner and the average pools' shares to be right; z+ relevance is >= 0. Measured
    (96x96 chelsea, target logit 270.25): epsilon=1e-6 sum 270.245 (rel 1.9e-5), corr with gradient
    x input 0.999987; z+ sum rel 2.4e-7, min/max 1.3e-5; the default epsilon (0.25 RMS) keeps 1.6%."""
    import skimage.data

    photo = resnet50_vd.image_as_explained(skimage.data.chelsea())
    logits = resnet50_vd.scores_for_inputs(resnet50_vd.preprocess(photo[None]))[0]
    t = int(np.argmax(logits))
    logit, gxi = logits_and_gxi(resnet50_vd, photo[None], [t])
    assert logit[0] > 10
    lrp0 = LRP(resnet50_vd, epsilon=1e-6).attribute(photo, t)
    assert lrp0.shape == (1, 3, 96, 96) and np.isfinite(lrp0).all()
    assert lrp0.sum() == pytest.approx(logit[0], rel=1e-3)
    assert _corr(lrp0, gxi) > 0.9999
    zplus = LRP(resnet50_vd, rule="zplus").attribute(photo, t)
    assert zplus.sum() == pytest.approx(logit[0], rel=1e-4)
    assert zplus.min() >= -1e-7 * zplus.max()
    default = LRP(resnet50_vd).attribute(photo, t)
    assert 0 < default.sum() < 0.5 * logit[0]  # epsilon absorbs relevance, as documented


def test_paddleclas_resnet50_vd_with_batch_norm_shifts(resnet50_vd):
    """With non-zero batch-norm shifts and running means the biases absorb relevance (the sum is
    no longer the logit: measured 248.5 vs 317.8), but LRP-0 is still gradient x input (corr 0.999995):
    the shifts are folded into the right convolutions. The network is a deep copy: the fixture's
    weights stay bias-free."""
    from paddle import nn as pnn

    clf = resnet50_vd.clone()
    rng = np.random.default_rng(1)
    for bn in (sub for sub in clf.network.sublayers() if isinstance(sub, pnn.BatchNorm)):
        c = bn.weight.shape[0]
        bn.bias.set_value(rng.uniform(-0.3, 0.3, c).astype("float32"))
        bn._mean.set_value(rng.uniform(-0.2, 0.2, c).astype("float32"))
    import skimage.data

    photo = clf.image_as_explained(skimage.data.chelsea())
    t = int(np.argmax(clf.scores_for_inputs(clf.preprocess(photo[None]))[0]))
    logit, gxi = logits_and_gxi(clf, photo[None], [t])
    lrp0 = LRP(clf, epsilon=1e-6).attribute(photo, t)
    assert _corr(lrp0, gxi) > 0.9999
    assert abs(lrp0.sum() / logit[0] - 1) > 1e-2
