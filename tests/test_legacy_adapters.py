"""Adapters for legacy PaddleX (1.x, 2.x) model objects and for ``paddle.Model``.

PaddleX 1.x and 2.x need Paddle 2.2-2.3 and cannot be installed next to Paddle 3, so their model
objects and transforms are *stand-ins* written here with exactly the documented attribute names
(``model_type``, ``num_classes``, ``labels``, ``net``, ``status``, ``test_transforms``,
``predict``; ``Decode(to_rgb)``, ``ResizeByShort(short_size, max_size, interp)``,
``CenterCrop(crop_size)``, ``Normalize(mean, std, min_val, max_val, is_scale)``, ...). The
transforms' ``__call__`` is a straightforward cv2 re-implementation of the documented op
semantics, so the parity checks compare our preprocessing with an independent implementation.
Everything else is real: the networks are real Paddle layers (a PaddleClas architecture for
PaddleX 2.x, as PaddleX 2.x classifiers hold one), the photo is scikit-image's ``chelsea``, and
``paddle.Model`` is trained with the real ``prepare``/``fit`` on sklearn's digits through real
``paddle.vision.transforms``.
"""
import cv2
import numpy as np
import paddle
import paddle.vision.transforms as T
import pytest
from PIL import Image

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models.base import LabelCountError, softmax
from paddlex_interpret.models.hapi_model import (PaddleVisionPreprocess, from_paddle_model, is_paddle_model,
                                                 preprocess_from_vision_transforms)
from paddlex_interpret.models.legacy_paddlex import (LegacyPaddleXError, from_legacy_paddlex, is_legacy_paddlex,
                                                     legacy_paddlex_version)
from paddlex_interpret.models.paddle_layer import PaddleLayerClassifier
from paddlex_interpret.models.transform_config import TransformConfigError

LABELS = ["apple", "banana", "cherry"]
_INTERP = {"NEAREST": cv2.INTER_NEAREST, "LINEAR": cv2.INTER_LINEAR, "CUBIC": cv2.INTER_CUBIC,
           "AREA": cv2.INTER_AREA, "LANCZOS4": cv2.INTER_LANCZOS4}


# --------------------------------------------------------------------------------------------
# PaddleX 2.x stand-ins: transforms work on a sample dict {'image': ...}
# --------------------------------------------------------------------------------------------
class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, sample):
        for op in self.transforms:
            sample = op(sample)
        return sample


class Decode:
    def __init__(self, to_rgb=True):
        self.to_rgb = to_rgb

    def __call__(self, sample):
        image = sample["image"]
        if isinstance(image, str):
            image = cv2.imread(image, cv2.IMREAD_COLOR)  # BGR
        if self.to_rgb:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        sample["image"] = image
        return sample


class ResizeByShort:
    def __init__(self, short_size=256, max_size=-1, interp="LINEAR"):
        self.short_size, self.max_size, self.interp = short_size, max_size, interp

    def __call__(self, sample):
        h, w = sample["image"].shape[:2]
        scale = float(self.short_size) / min(h, w)
        if 0 < self.max_size < np.round(scale * max(h, w)):
            scale = float(self.max_size) / max(h, w)
        size = (int(round(w * scale)), int(round(h * scale)))
        sample["image"] = cv2.resize(sample["image"], size, interpolation=_INTERP[self.interp])
        return sample


class Resize:
    def __init__(self, target_size, interp="LINEAR", keep_ratio=False):
        self.target_size = (target_size, target_size) if isinstance(target_size, int) else target_size
        self.interp, self.keep_ratio = interp, keep_ratio

    def __call__(self, sample):
        h, w = self.target_size  # (height, width) in 2.x
        sample["image"] = cv2.resize(sample["image"], (w, h), interpolation=_INTERP[self.interp])
        return sample


class CenterCrop:
    def __init__(self, crop_size=224):
        self.crop_size = crop_size

    def __call__(self, sample):
        h, w = sample["image"].shape[:2]
        top, left = (h - self.crop_size) // 2, (w - self.crop_size) // 2
        sample["image"] = sample["image"][top:top + self.crop_size, left:left + self.crop_size]
        return sample


class Normalize:
    def __init__(self, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), min_val=(0, 0, 0),
                 max_val=(255.0, 255.0, 255.0), is_scale=True):
        self.mean, self.std, self.min_val, self.max_val, self.is_scale = mean, std, min_val, max_val, is_scale

    def __call__(self, sample):
        x = sample["image"].astype(np.float32)
        if self.is_scale:
            lo = np.asarray(self.min_val, np.float32)
            x = (x - lo) * (1.0 / (np.asarray(self.max_val, np.float32) - lo))
        sample["image"] = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return sample


class ArrangeClassifier:
    def __init__(self, mode="test"):
        self.mode = mode

    def __call__(self, sample):
        sample["image"] = sample["image"].transpose(2, 0, 1).astype(np.float32)
        return sample


class ResizeByLong(ResizeByShort):
    """A real 2.x op we do not translate."""

    def __init__(self, long_size=256, interp="LINEAR"):
        super().__init__()
        self.long_size = long_size


class RandomHorizontalFlip:
    def __init__(self, prob=0.5):
        self.prob = prob


class PaddleX2Classifier:
    """Stand-in for a PaddleX 2.x classifier (``paddlex.cls.<Arch>`` / ``paddlex.load_model``)."""

    def __init__(self, net, labels, test_transforms, status="Normal", model_type="classifier"):
        self.model_type = model_type
        self.model_name = "MobileNetV3_small_x0_35"
        self.version = "2.1.0"
        self.num_classes = len(labels)
        self.labels = list(labels)
        self.net = net
        self.status = status
        self.test_transforms = test_transforms

    def predict(self, img_file, transforms=None, topk=1):
        transforms = transforms or self.test_transforms
        image = transforms({"image": img_file})["image"]
        self.net.eval()
        out = self.net(paddle.to_tensor(image[None])).numpy()[0].astype(np.float64)
        probs = out if self.status == "Infer" else softmax(out[None])[0]
        order = np.argsort(-probs)[:topk]
        return [{"category_id": int(i), "category": self.labels[i], "score": float(probs[i])} for i in order]


# --------------------------------------------------------------------------------------------
# PaddleX 1.x stand-ins: transforms are op(im, label=None) -> tuple; Compose decodes to float32
# --------------------------------------------------------------------------------------------
class Compose1:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, im, label=None):
        if isinstance(im, str):
            im = cv2.imread(im)
        im = cv2.cvtColor(im.astype("float32"), cv2.COLOR_BGR2RGB)
        outputs = (im,)
        for op in self.transforms:
            outputs = op(im, label)
            im = outputs[0]
        return outputs


class ResizeByShort1:
    def __init__(self, short_size=256, max_size=-1):
        self.short_size, self.max_size = short_size, max_size

    def __call__(self, im, label=None):
        scale = float(self.short_size) / min(im.shape[:2])
        size = (int(round(im.shape[1] * scale)), int(round(im.shape[0] * scale)))
        return (cv2.resize(im, size, interpolation=cv2.INTER_LINEAR),)


class CenterCrop1:
    def __init__(self, crop_size=224):
        self.crop_size = crop_size

    def __call__(self, im, label=None):
        h, w = im.shape[:2]
        top, left = (h - self.crop_size) // 2, (w - self.crop_size) // 2
        return (im[top:top + self.crop_size, left:left + self.crop_size],)


class Normalize1:
    def __init__(self, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
        self.mean, self.std = mean, std

    def __call__(self, im, label=None):
        im = im / 255.0
        im -= np.array(self.mean)[None, None, :]
        im /= np.array(self.std)[None, None, :]
        return (im,)


class ArrangeClassifier1:
    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, im, label=None):
        return (im.transpose(2, 0, 1).astype("float32"),)


for _cls, _name in ((Compose1, "Compose"), (ResizeByShort1, "ResizeByShort"), (CenterCrop1, "CenterCrop"),
                    (Normalize1, "Normalize"), (ArrangeClassifier1, "ArrangeClassifier")):
    _cls.__name__ = _cls.__qualname__ = _name  # PaddleX 1.x class names


class PaddleX1Classifier:
    """Stand-in for a PaddleX 1.x classifier: the network is a static program (test_prog/exe/scope)."""

    def __init__(self, labels, test_transforms, net=None):
        self.model_type = "classifier"
        self.version = "1.3.11"
        self.num_classes = len(labels)
        self.labels = list(labels)
        self.status = "Normal"
        self.test_transforms = test_transforms
        self.scope = object()  # a fluid Scope in PaddleX 1.x
        self.exe = object()  # a fluid Executor
        self.test_prog = object()  # a fluid Program
        self.interpretation_feats = {"logits": object()}
        if net is not None:
            self.net = net


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """chelsea as PNG (lossless, so cv2 and PIL read the same pixels)."""
    import skimage.data

    path = tmp_path_factory.mktemp("photo") / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(path)
    return str(path)


def _paddleclas_net(seed=0, softmax_head=False):
    from paddleclas.ppcls.arch.backbone import MobileNetV3_small_x0_35

    paddle.seed(seed)
    net = MobileNetV3_small_x0_35(pretrained=False, class_num=len(LABELS))
    net.eval()
    # Random init (BatchNorm statistics 0/1) shrinks the features to ~1e-5, so the outputs are
    # uniform; scale the classifier so that the logits of a natural-looking input spread by ~4.
    probe = paddle.to_tensor(np.random.default_rng(seed).normal(0, 1, (1, 3, 128, 128)).astype("float32"))
    with paddle.no_grad():
        spread = float(np.ptp(net(probe).numpy()))
        net.fc.weight.set_value(net.fc.weight * (4.0 / spread))
    if softmax_head:  # what PaddleX 2.x builds for status 'Infer'
        net = paddle.nn.Sequential(net, paddle.nn.Softmax(axis=-1))
    return net


@pytest.fixture(scope="module")
def pcls_net():
    return _paddleclas_net()


def _flags(layer):
    return [sub.training for sub in layer.sublayers(include_self=True)]


# Non-default geometry (short side 160, crop 128) so parity does not hold by accident.
def _v2_transforms(**normalize):
    return Compose([Decode(to_rgb=True), ResizeByShort(short_size=160, max_size=-1, interp="LINEAR"),
                    CenterCrop(crop_size=128), Normalize(**normalize), ArrangeClassifier("test")])


def _ours(classifier, path):
    return classifier.preprocess(classifier.image_as_explained(path)[None])[0]


# --------------------------------------------------------------------------------------------
# PaddleX 2.x
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("transforms", [
    _v2_transforms(),
    # cubic fixed-size resize, per-channel min/max, network in BGR order
    Compose([Decode(to_rgb=False), Resize(target_size=(144, 176), interp="CUBIC"),
             Normalize(mean=[0.5, 0.4, 0.3], std=[0.5, 0.6, 0.7], min_val=[10, 0, 5], max_val=[250, 255, 245])]),
    # 0-255 statistics without scaling
    Compose([Decode(), ResizeByShort(short_size=150, interp="AREA"), CenterCrop(crop_size=120),
             Normalize(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], is_scale=False),
             ArrangeClassifier("test")]),
    # one min/max range for all channels, not starting at 0
    Compose([Decode(), ResizeByShort(short_size=140, interp="NEAREST"), CenterCrop(crop_size=112),
             Normalize(mean=[0.1, 0.2, 0.3], std=[0.9, 0.8, 0.7], min_val=[20, 20, 20], max_val=[220, 220, 220]),
             ArrangeClassifier("test")]),
], ids=["default-ops", "resize-bgr-minmax", "no-scale", "uniform-minmax"])
def test_paddlex2_preprocessing_parity(pcls_net, photo, transforms):
    model = PaddleX2Classifier(pcls_net, LABELS, transforms)
    assert is_legacy_paddlex(model) and legacy_paddlex_version(model) == 2
    clf = from_legacy_paddlex(model)
    expected = transforms({"image": photo})["image"]
    if expected.shape[-1] == 3:  # no ArrangeClassifier in the list
        expected = expected.transpose(2, 0, 1)
    ours = _ours(clf, photo)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_paddlex2_top1_probabilities_labels_and_flags(pcls_net, photo):
    model = PaddleX2Classifier(pcls_net, LABELS, _v2_transforms())
    clf = from_legacy_paddlex(model, runner="dygraph")
    assert isinstance(clf, PaddleLayerClassifier) and clf.network is pcls_net
    assert clf.labels == LABELS and clf.num_classes == 3 and not clf.outputs_probabilities

    pcls_net.train()  # predictions must run in eval mode and leave the flags alone
    before = _flags(pcls_net)
    probs = clf.predict_proba(clf.image_as_explained(photo)[None])[0]
    assert _flags(pcls_net) == before

    tensor = _v2_transforms()({"image": photo})["image"]
    pcls_net.eval()
    with paddle.no_grad():
        logits = pcls_net(paddle.to_tensor(tensor[None])).numpy().astype(np.float64)
    np.testing.assert_allclose(probs, softmax(logits)[0], atol=1e-5)
    assert int(np.argmax(probs)) == int(np.argmax(logits))
    assert probs.max() > 0.5  # a clear top-1, so the comparison means something
    top = model.predict(photo, topk=1)[0]
    assert top["category_id"] == int(np.argmax(probs))
    assert clf.label_name(top["category_id"]) == top["category"]


def test_paddlex2_infer_status_outputs_are_not_softmaxed_again(photo):
    net = _paddleclas_net(softmax_head=True)
    model = PaddleX2Classifier(net, LABELS, _v2_transforms(), status="Infer")
    clf = from_legacy_paddlex(model)
    assert clf.outputs_probabilities
    probs = clf.predict_proba(clf.image_as_explained(photo)[None])[0]
    net.eval()
    with paddle.no_grad():
        raw = net(paddle.to_tensor(_v2_transforms()({"image": photo})["image"][None])).numpy()[0]
    np.testing.assert_allclose(probs, raw, atol=1e-5)  # softmax(probabilities) would be much flatter
    assert abs(softmax(raw[None].astype(np.float64))[0].max() - probs.max()) > 0.05
    assert model.predict(photo)[0]["category_id"] == int(np.argmax(probs))


def test_paddlex2_without_test_transforms_warns_and_uses_defaults(pcls_net):
    model = PaddleX2Classifier(pcls_net, LABELS, test_transforms=None)
    assumed = r"no test_transforms.*ResizeByShort\(short_size=256\).*CenterCrop\(crop_size=224\)"
    with pytest.warns(UserWarning, match=assumed):
        clf = from_legacy_paddlex(model)
    assert clf.preprocess == ImagePreprocess()  # short 256, crop 224, ImageNet mean/std on 0-1 pixels


@pytest.mark.parametrize("op, name", [
    (ResizeByLong(long_size=200), "ResizeByLong"),
    (RandomHorizontalFlip(), "RandomHorizontalFlip"),
    (ResizeByShort(short_size=160, max_size=200), r"ResizeByShort\(max_size=200\)"),
    (Resize(target_size=128, keep_ratio=True), r"Resize\(keep_ratio=True\)"),
    (ResizeByShort(short_size=160, interp="RANDOM"), r"ResizeByShort\(interp='RANDOM'\)"),
])
def test_paddlex2_unsupported_ops_name_the_op(pcls_net, op, name):
    transforms = Compose([Decode(), op, CenterCrop(crop_size=128), Normalize(), ArrangeClassifier("test")])
    model = PaddleX2Classifier(pcls_net, LABELS, transforms)
    with pytest.raises(TransformConfigError, match=rf"{name}.*preprocess="):
        from_legacy_paddlex(model)
    # an explicit preprocess is the way out
    clf = from_legacy_paddlex(model, preprocess=ImagePreprocess(resize_short=160, crop_size=128))
    assert clf.preprocess.crop_size == (128, 128)


def test_paddlex2_ops_in_an_order_we_cannot_reproduce(pcls_net):
    transforms = Compose([Decode(), CenterCrop(crop_size=200), ResizeByShort(short_size=128), Normalize()])
    with pytest.raises(TransformConfigError, match="ResizeByShort comes after CenterCrop"):
        from_legacy_paddlex(PaddleX2Classifier(pcls_net, LABELS, transforms))


def test_wrong_model_type_and_non_paddlex_objects(pcls_net):
    detector = PaddleX2Classifier(pcls_net, LABELS, _v2_transforms(), model_type="detector")
    assert is_legacy_paddlex(detector)
    with pytest.raises(TypeError, match="model_type 'detector'"):
        from_legacy_paddlex(detector)
    for obj in (pcls_net, object(), PaddleLayerClassifier(pcls_net), paddle.Model(pcls_net)):
        assert not is_legacy_paddlex(obj)
    with pytest.raises(TypeError, match="not a PaddleX"):
        from_legacy_paddlex(pcls_net)
    broken = PaddleX2Classifier(pcls_net, LABELS, _v2_transforms())
    broken.net = None
    with pytest.raises(LegacyPaddleXError, match="no usable network"):
        from_legacy_paddlex(broken)


def test_legacy_overrides(pcls_net, photo):
    model = PaddleX2Classifier(pcls_net, LABELS, _v2_transforms())
    with pytest.raises(TypeError, match=r"unknown overrides \['transforms'\].*labels, output, preprocess, runner"):
        from_legacy_paddlex(model, transforms=None)
    with pytest.raises(LabelCountError, match="2 names but the model has 3 classes"):
        from_legacy_paddlex(model, labels=["a", "b"])
    model.labels = ["a", "b"]  # a model whose own labels disagree fails clearly too
    with pytest.raises(LabelCountError, match="model.labels has 2 names"):
        from_legacy_paddlex(model)
    pre = ImagePreprocess(resize_short=150, crop_size=96)
    clf = from_legacy_paddlex(model, labels=["x", "y", "z"], preprocess=pre, output="probabilities",
                              runner="dygraph")
    assert clf.labels == ["x", "y", "z"] and clf.preprocess is pre and clf.runner == "dygraph"
    assert clf.outputs_probabilities


# --------------------------------------------------------------------------------------------
# PaddleX 1.x
# --------------------------------------------------------------------------------------------
def test_paddlex1_program_cannot_run_on_paddle3():
    model = PaddleX1Classifier(LABELS, Compose1([ResizeByShort1(160), CenterCrop1(128), Normalize1(),
                                                 ArrangeClassifier1("test")]))
    assert is_legacy_paddlex(model) and legacy_paddlex_version(model) == 1
    with pytest.raises(LegacyPaddleXError, match=r"PaddleX 1\.x.*Paddle 3.*PaddleX 3.*PaddleClas"):
        from_legacy_paddlex(model)


@pytest.mark.parametrize("resize", [True, False], ids=["resize-crop-normalize", "crop-normalize"])
def test_paddlex1_with_a_network(pcls_net, photo, resize):
    ops = ([ResizeByShort1(160)] if resize else []) + [CenterCrop1(128), Normalize1(), ArrangeClassifier1("test")]
    model = PaddleX1Classifier(LABELS, Compose1(ops), net=pcls_net)
    clf = from_legacy_paddlex(model)
    assert clf.network is pcls_net and clf.labels == LABELS
    expected = model.test_transforms(photo)[0]
    ours = _ours(clf, photo)
    assert ours.shape == expected.shape == (3, 128, 128)
    if resize:
        # PaddleX 1.x resizes float32 pixels, the explained image is uint8 (OpenCV's fixed-point uint8
        # resize): under one grey level apart
        grey_levels = np.abs(ours - expected) * np.asarray(Normalize1().std, np.float32)[:, None, None] * 255
        assert grey_levels.max() < 1.0
        assert grey_levels.mean() < 0.3
    else:
        np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------------------------
# paddle.Model
# --------------------------------------------------------------------------------------------
DIGIT_SIZE = (20, 23)  # (h, w): Resize(18) -> 18x20 (int truncation), CenterCrop(17) -> left offset round(1.5) = 2
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def _digit_transform():
    return T.Compose([T.Resize(18), T.CenterCrop(17), T.ToTensor(), T.Normalize(mean=MEAN, std=STD)])


class DigitsDataset(paddle.io.Dataset):
    """sklearn's 8x8 digits, upsampled to 20x23 colour images (uint8 RGB arrays)."""

    def __init__(self, images, targets, transform):
        super().__init__()
        self.images, self.targets, self.transform = images, targets, transform
        self.classes = [str(i) for i in range(10)]

    def __getitem__(self, index):
        return self.transform(self.images[index]), np.array([self.targets[index]], dtype="int64")

    def __len__(self):
        return len(self.images)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    images = []
    for image in data.images[:320]:
        grey = cv2.resize((image * (255.0 / 16)).astype(np.float32), DIGIT_SIZE[::-1], interpolation=cv2.INTER_LINEAR)
        rgb = np.stack([grey, 0.6 * grey + 60, 255 - 0.8 * grey], axis=-1)
        images.append(np.clip(np.round(rgb), 0, 255).astype(np.uint8))
    return np.stack(images), data.target[:320]


@pytest.fixture(scope="module")
def trained(digits):
    """A paddle.Model after a real prepare + fit of a few steps."""
    images, targets = digits
    dataset = DigitsDataset(images, targets, _digit_transform())
    paddle.seed(1)
    net = paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 8, 3, stride=2), paddle.nn.BatchNorm2D(8), paddle.nn.ReLU(), paddle.nn.Flatten(),
        paddle.nn.Dropout(0.2), paddle.nn.Linear(8 * 8 * 8, 10),
    )
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.Adam(learning_rate=0.01, parameters=net.parameters()),
                  paddle.nn.CrossEntropyLoss())
    model.fit(dataset, batch_size=32, epochs=1, num_iters=6, verbose=0, shuffle=False)
    return model, dataset


def test_paddle_model_from_dataset_parity_predictions_and_flags(trained):
    model, dataset = trained
    assert is_paddle_model(model)
    clf = from_paddle_model(model, dataset=dataset)
    assert clf.network is model.network and clf.labels == dataset.classes
    assert isinstance(clf.preprocess, PaddleVisionPreprocess) and clf.preprocess.backend == "cv2"

    raw = dataset.images[:8]
    explained = np.stack([clf.preprocess.geometry(image) for image in raw])
    assert explained.shape == (8, 17, 17, 3) and explained.dtype == np.uint8
    expected = np.stack([dataset.transform(image).numpy() for image in raw])
    np.testing.assert_allclose(clf.preprocess(explained), expected, atol=1e-5, rtol=0)
    # the plain resize-by-short/centre-crop rounding would not match (long side 20 vs 21, crop offsets)
    plain = ImagePreprocess(resize_short=18, crop_size=17, mean=MEAN, std=STD)
    assert not np.allclose(plain(np.stack([plain.geometry(image) for image in raw])), expected, atol=1e-3)

    network = model.network
    network.train()  # as fit leaves it
    before = _flags(network)
    probs = clf.predict_proba(explained, batch_size=8)
    assert _flags(network) == before
    (logits,) = model.predict_batch([expected])
    np.testing.assert_allclose(probs, softmax(logits.astype(np.float64)), atol=1e-5)
    assert (probs.argmax(axis=1) == logits.argmax(axis=1)).all()


def _write_digit_folder(root, images, targets, classes):
    for c in classes:
        (root / str(c)).mkdir(parents=True)
        index = int(np.flatnonzero(targets == c)[0])
        Image.fromarray(images[index]).save(root / str(c) / f"{index}.png")


@pytest.mark.parametrize("loader", ["pil", "cv2"])
def test_paddle_model_with_a_dataset_folder(trained, digits, tmp_path, loader):
    from paddle.vision.datasets import DatasetFolder

    model, _ = trained
    images, targets = digits
    _write_digit_folder(tmp_path / "digits", images, targets, range(10))
    kwargs = {} if loader == "pil" else {"loader": lambda p: cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB)}
    folder = DatasetFolder(str(tmp_path / "digits"), transform=_digit_transform(), **kwargs)
    clf = from_paddle_model(model, dataset=folder)
    assert clf.preprocess.backend == loader  # PIL images resize differently from numpy arrays
    assert clf.labels == folder.classes == [str(i) for i in range(10)]
    for index, (path, _) in enumerate(folder.samples[:4]):
        np.testing.assert_allclose(_ours(clf, path), folder[index][0].numpy(), atol=1e-5, rtol=0)
    if loader == "pil":
        other = from_paddle_model(model, dataset=folder, image_backend="cv2")
        path = folder.samples[0][0]
        assert not np.array_equal(other.image_as_explained(path), clf.image_as_explained(path))


def test_paddle_model_labels_from_the_dataset_must_match(trained, digits, tmp_path):
    from paddle.vision.datasets import DatasetFolder

    model, _ = trained
    images, targets = digits
    _write_digit_folder(tmp_path / "three", images, targets, range(3))
    folder = DatasetFolder(str(tmp_path / "three"), transform=_digit_transform())
    with pytest.raises(LabelCountError, match=r"dataset\.classes.*3 names.*10 classes"):
        from_paddle_model(model, dataset=folder)
    with pytest.raises(LabelCountError, match="2 names"):
        from_paddle_model(model, preprocess=ImagePreprocess(resize_short=None, crop_size=17), labels=["a", "b"])


@pytest.mark.parametrize("ops", [
    [T.Resize((16, 19), interpolation="bicubic"), T.ToTensor(),
     T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])],
    [T.CenterCrop(15), T.Normalize(mean=[127.5] * 3, std=[127.5, 100.0, 80.0], data_format="HWC", to_rgb=True),
     T.ToTensor()],
    [T.Resize(18), T.Transpose(), T.Normalize(mean=[100, 110, 120], std=[50, 60, 70], data_format="CHW")],
    [T.Resize(18, interpolation="area"), T.ToTensor(data_format="HWC"), T.Normalize(0.5, 0.5, data_format="HWC")],
], ids=["resize-hw-bicubic", "normalize-before-totensor-bgr", "transpose-0-255", "channels-last"])
def test_vision_transform_variants_match_paddle(digits, ops):
    images, _ = digits
    transform = T.Compose(ops)
    pre = preprocess_from_vision_transforms(transform)
    for image in images[:3]:
        expected = transform(image)
        expected = expected.numpy() if hasattr(expected, "numpy") else np.asarray(expected)
        ours = pre(pre.geometry(image)[None])[0]
        assert ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_paddle_model_errors(trained, digits):
    model, _ = trained
    images, targets = digits
    with pytest.raises(TypeError, match=r"preprocess=.*dataset="):
        from_paddle_model(model)
    with pytest.raises(TypeError, match=r"unknown overrides \['size'\].*labels, output, preprocess, runner"):
        from_paddle_model(model, dataset=None, size=17)
    with pytest.raises(TypeError, match="paddle.Model"):
        from_paddle_model(model.network, preprocess=ImagePreprocess())
    assert not is_paddle_model(model.network)
    augmented = DigitsDataset(images, targets, T.Compose([T.RandomHorizontalFlip(), T.ToTensor()]))
    with pytest.raises(TransformConfigError, match=r"RandomHorizontalFlip.*augmentation.*preprocess="):
        from_paddle_model(model, dataset=augmented)
    late = DigitsDataset(images, targets, T.Compose([T.ToTensor(), T.Resize(18)]))
    with pytest.raises(TransformConfigError, match="Resize comes after"):
        from_paddle_model(model, dataset=late)
    grey = DigitsDataset(images[..., 0], targets, _digit_transform())
    with pytest.raises(TransformConfigError, match=r"shape \(20, 23\)"):
        from_paddle_model(model, dataset=grey)
    # an explicit preprocess needs no dataset; overrides pass through
    pre = ImagePreprocess(resize_short=None, crop_size=17, mean=MEAN, std=STD)
    clf = from_paddle_model(model, preprocess=pre, output="logits", runner="dygraph")
    assert clf.preprocess is pre and clf.labels is None and clf.runner == "dygraph"


def test_as_classifier_recognises_legacy_and_hapi_objects():
    """as_classifier dispatches both kinds without being told which they are."""
    import paddle

    from paddlex_interpret.models import PaddleLayerClassifier, as_classifier

    net = paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(3 * 8 * 8, 2))
    hapi = paddle.Model(net)
    with pytest.raises(TypeError, match="preprocess=.*dataset="):
        as_classifier(hapi)
    from paddlex_interpret.data import ImagePreprocess

    clf = as_classifier(hapi, preprocess=ImagePreprocess(resize_short=None, crop_size=8))
    assert isinstance(clf, PaddleLayerClassifier) and clf.network is net


class _BrokenDigits(DigitsDataset):
    """Item loading fails before (``when='before'``) or after (``'after'``) the transform is called."""

    def __init__(self, images, targets, transform, error, when="before"):
        super().__init__(images, targets, transform)
        self.error, self.when = error, when

    def __getitem__(self, index):
        if self.when == "before":
            raise self.error
        self.transform(self.images[index])
        raise self.error


def test_paddle_model_dataset_probe_propagates_real_errors(trained, digits):
    """A dataset whose item 0 fails for a real reason: the error reaches the user with a note naming
    what was being read (it used to be swallowed), and the dataset's transform is restored."""
    model, _ = trained
    images, targets = digits
    transform = _digit_transform()
    broken = _BrokenDigits(images, targets, transform, RuntimeError("label file labels.txt is corrupt"))
    with pytest.raises(RuntimeError, match="labels.txt is corrupt") as info:
        from_paddle_model(model, dataset=broken)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "_BrokenDigits[0]" in notes and "image_backend=" in notes
    assert broken.transform is transform  # the probe is gone again
    # told the image type, the dataset is not read at all
    clf = from_paddle_model(model, dataset=broken, image_backend="cv2")
    assert clf.preprocess.backend == "cv2" and clf.labels == broken.classes
    # a real error after the transform saw the image propagates too
    late = _BrokenDigits(images, targets, transform, ValueError("bad target"), when="after")
    with pytest.raises(ValueError, match="bad target"):
        from_paddle_model(model, dataset=late)


@pytest.mark.parametrize("error", [IndexError("list index out of range"), FileNotFoundError("/data/0.png"),
                                   NotImplementedError()], ids=["empty", "files-elsewhere", "abstract"])
def test_paddle_model_dataset_that_cannot_be_probed_falls_back_with_the_reason(trained, digits, error):
    """Errors that only mean 'item 0 cannot be read here' give the cv2 fallback and its warning,
    which now says why; a probe that saw the image before such an error keeps what it saw."""
    model, _ = trained
    images, targets = digits
    unreadable = _BrokenDigits(images, targets, _digit_transform(), error)
    with pytest.warns(UserWarning, match=rf"could not see which images .*{type(error).__name__}.*image_backend='pil'"):
        clf = from_paddle_model(model, dataset=unreadable)
    assert clf.preprocess.backend == "cv2"
    seen = _BrokenDigits([Image.fromarray(im) for im in images[:2]], targets, _digit_transform(), error,
                         when="after")
    assert from_paddle_model(model, dataset=seen).preprocess.backend == "pil"
