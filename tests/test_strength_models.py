"""Model adapters, hardened: the fast runner's export follows every weight change (a permutation of
a tensor's elements included), and a failing class-count probe runs the network only once."""
import numpy as np
import paddle
import pytest
from paddle import nn

from conftest import SmallCNN
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.models.base import LabelCountError

PRE32 = ImagePreprocess(resize_short=None, crop_size=32)


def _images(n=6, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.uint8)


def _old_fingerprint(tensors):
    """What the fingerprint used to be: count, sum and sum of squares (float64)."""
    values = [t.numpy().astype(np.float64) for t in tensors]
    return len(values), float(sum(v.sum() for v in values)), float(sum((v ** 2).sum() for v in values))


@pytest.mark.parametrize("tensor", [
    "fc.weight",  # the rows of the classifier's weight (16 x 5), reversed
    "features.1._variance",  # a batch norm's running variance (not trainable), reversed
], ids=["fc-rows", "bn-running-variance"])
def test_fast_runner_follows_a_permutation_of_a_weight_tensor(tensor):
    """Batches of >= 2 go through Paddle Inference (runner='auto'). A permutation keeps the count,
    sum and sum of squares of the weights (the old fingerprint), but not the predictions: the
    exported copy must be refreshed and agree with dygraph again."""
    net = SmallCNN()
    # Distinct dyadic values (multiples of 1/16): their sums and sums of squares are exact in
    # float64 in any order, so the old fingerprint is provably blind to the permutation.
    net.features[1]._variance.set_value(np.arange(1, 9, dtype="float32") / 4)
    net.fc.weight.set_value(np.round(net.fc.weight.numpy() * 160) / 16)  # x10: outputs well apart
    fast = PaddleLayerClassifier(net, preprocess=PRE32, runner="auto")
    slow = PaddleLayerClassifier(net, preprocess=PRE32, runner="dygraph")
    imgs = _images()
    before = fast.predict_proba(imgs, batch_size=3)
    assert fast._fast is not None, "runner='auto' did not use Paddle Inference for a batch of 3"
    np.testing.assert_allclose(before, slow.predict_proba(imgs), atol=1e-5)
    exported = fast._fast[1]
    fast.predict_proba(imgs, batch_size=3)
    assert fast._fast[1] is exported  # nothing changed: no new export

    param = dict(net.named_parameters())[tensor]
    old = _old_fingerprint(net.parameters())
    param.set_value(param.numpy()[::-1].copy())
    new = _old_fingerprint(net.parameters())
    assert old == new  # invisible to the old check
    expected = slow.predict_proba(imgs)
    assert np.abs(expected - before).max() > 1e-2  # the permutation does change what the net predicts
    np.testing.assert_allclose(fast.predict_proba(imgs, batch_size=3), expected, atol=1e-5)
    assert fast._fast[1] is not exported


class WithBuffer(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("offset", paddle.to_tensor([0.0, 1.0]))

    def forward(self, x):
        return self.fc(x.mean(axis=[2, 3])) + self.offset


def test_parameter_fingerprint_is_exact_and_sees_buffers():
    """Swapping two elements of any parameter, or a registered buffer, changes the digest; reading
    the network (predictions, a deep copy) does not."""
    net = WithBuffer()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=4))
    first = clf._parameter_fingerprint()
    clf.predict_proba(_images(2, size=4))
    assert clf._parameter_fingerprint() == first
    assert clf.clone()._parameter_fingerprint() == first
    w = net.fc.weight.numpy()
    swapped = w.copy()
    swapped[0, 0], swapped[1, 1] = w[1, 1], w[0, 0]
    net.fc.weight.set_value(swapped)
    second = clf._parameter_fingerprint()
    assert second != first
    net.offset.set_value(paddle.to_tensor([1.0, 0.0]))  # a permutation of the buffer
    assert clf._parameter_fingerprint() not in (first, second)
    net.offset.set_value(paddle.to_tensor([0.0, 1.0]))
    assert clf._parameter_fingerprint() == second


# --- the class-count probe ------------------------------------------------------------------------

class CountingNet(nn.Layer):
    """Linear on the flattened 8x8 image: a forward on any other size fails."""

    def __init__(self, classes=3):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, classes)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.fc(paddle.flatten(x, 1))


def test_a_failing_class_count_probe_runs_the_network_once():
    net = CountingNet()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=None))  # probes 224x224
    with pytest.raises(ValueError, match="could not find the number of classes .* 224x224") as first:
        clf.num_classes
    assert net.calls == 1
    with pytest.raises(ValueError, match="could not find the number of classes .* 224x224") as second:
        clf.num_classes
    assert net.calls == 1  # the failure was remembered, the network not run again
    assert str(second.value) == str(first.value)
    assert type(second.value.__cause__) is type(first.value.__cause__) and second.value.__cause__ is not None
    # a prediction of the right size settles the count
    probs = clf.predict_proba(_images(2, size=8))
    assert probs.shape == (2, 3) and clf.num_classes == 3 and net.calls == 2
    # another preprocess object is probed afresh
    other = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=None))
    other.preprocess = ImagePreprocess(resize_short=None, crop_size=8)
    assert other.num_classes == 3 and net.calls == 3


def test_a_failing_probe_with_labels_gives_the_label_count_without_rerunning():
    net = CountingNet()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=None),
                                labels=["a", "b", "c"])
    assert clf.num_classes == 3 and clf.num_classes == 3 and clf.label_name(2) == "c"
    assert net.calls == 1


def test_a_label_count_mismatch_is_remembered_too():
    net = CountingNet()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=8), labels=["a", "b"])
    for _ in range(2):
        with pytest.raises(LabelCountError, match="labels has 2 names but the network outputs 3"):
            clf.num_classes
    assert net.calls == 1
    clf.labels = ["a", "b", "c"]  # fixed labels: probed again, and it fits
    assert clf.num_classes == 3 and net.calls == 2


def test_the_weights_are_checked_once_per_prediction_session(monkeypatch):
    """LIME, Occlusion and the metrics run their batches in one prediction session: the fast runner
    hashes the weights at the first batch only, and a change between two sessions is still seen."""
    from paddlex_interpret.engine import LimeImage

    net = SmallCNN()
    fast = PaddleLayerClassifier(net, preprocess=PRE32, runner="auto")
    calls = []
    original = PaddleLayerClassifier._parameter_fingerprint
    monkeypatch.setattr(PaddleLayerClassifier, "_parameter_fingerprint",
                        lambda self: calls.append(1) or original(self))
    image = _images()[0]
    LimeImage(fast, num_samples=120, batch_size=20, random_state=0, progress=False).explain(image)
    assert len(calls) == 1  # six batches, one check
    calls.clear()
    fast.predict_proba(_images(), batch_size=3)
    fast.predict_proba(_images(), batch_size=3)
    assert len(calls) == 4  # outside a session: every batch (2 calls x 2 batches of 3)
    with fast.prediction_session():
        net.fc.weight.set_value(net.fc.weight.numpy()[::-1].copy())  # changed before the session's first batch
        got = fast.predict_proba(_images(), batch_size=3)
    slow = PaddleLayerClassifier(net, preprocess=PRE32, runner="dygraph")
    np.testing.assert_allclose(got, slow.predict_proba(_images()), atol=1e-5)


def test_the_runner_device_is_checked_and_the_gpu_path_needs_cuda(tmp_path):
    """device='cpu' runs; a bad device names what is valid; 'gpu' on a CPU-only Paddle says so (on a CUDA
    build the same call takes Paddle Inference's GPU path: not exercised here, no GPU in CI)."""
    from paddlex_interpret.models.inference_runner import InferenceRunner, StaticModelError, gpu_index

    paddle.seed(0)
    net = SmallCNN()
    net.eval()
    x = PRE32(_images(2))
    runner = InferenceRunner.from_layer(net, x, device="cpu")
    assert runner.device == "cpu"
    with paddle.no_grad():
        np.testing.assert_allclose(runner(x), net(paddle.to_tensor(x)).numpy(), rtol=1e-4, atol=1e-5)
    assert gpu_index("CPU") is None
    for bad in ("tpu", "gpu:x", "gpu:-1"):
        with pytest.raises(ValueError, match="device must be 'cpu', 'gpu' or 'gpu:N'"):
            gpu_index(bad)
    if paddle.is_compiled_with_cuda():
        assert gpu_index("gpu:1") == 1 and gpu_index("gpu") == 0
    else:
        with pytest.raises(StaticModelError, match="needs a CUDA build of Paddle"):
            InferenceRunner.from_layer(net, x, device="gpu:0")
