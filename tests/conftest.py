"""Shared fixtures: a private cache home, the real demo model, and small known-answer models."""
import os

import numpy as np
import paddle
import pytest

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import PaddleLayerClassifier

# Tiny settings per method for tests that run every method (state checks, the task API).
FAST_METHOD_PARAMS = {
    "lime": {"num_samples": 20, "progress": False, "random_state": 0},
    "smoothgrad": {"n_samples": 4, "random_state": 0},
    "intgrad": {"steps": 4, "random_state": 0},
    "gradshap": {"n_samples": 3, "random_state": 0},
    "occlusion": {"sliding_window_shapes": (3, 16, 16), "strides": 16, "progress": False},
    "gradcam": {},
    "scorecam": {"progress": False},
    "lrp": {},
}

GRID = 4  # known-answer images are a GRID x GRID mosaic of flat colour blocks
SIZE = 64


def _private_variable(tmp_path_factory, variable: str, folder: str):
    """Point ``variable`` at a new folder of the test session for its duration; restore it after."""
    path = tmp_path_factory.mktemp(folder)
    old = os.environ.get(variable)
    os.environ[variable] = str(path)
    yield path
    if old is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = old


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory):
    """Keep every cache the package writes inside the test session's temporary folder."""
    yield from _private_variable(tmp_path_factory, "PADDLEX_INTERPRET_HOME", "pxi_home")


@pytest.fixture(scope="session", autouse=True)
def private_user_home(tmp_path_factory):
    """A private ``HOME`` too, so a developer's real ``~/.paddlex`` (or any ``~`` cache) never leaks in."""
    yield from _private_variable(tmp_path_factory, "HOME", "user_home")


@pytest.fixture(scope="session")
def demo_model():
    from paddlex_interpret import demo

    return demo.load_model()


@pytest.fixture(scope="session")
def demo_images():
    from paddlex_interpret import demo

    return dict(zip(("chelsea", "coffee"), demo.image_paths()))


class RegionScoreNet(paddle.nn.Layer):
    """Logits [0, gain * mean(input over one rectangle)]: class 1 depends on that region only."""

    def __init__(self, rows, cols, gain=1.5):
        super().__init__()
        self.rows, self.cols, self.gain = rows, cols, gain

    def forward(self, x):
        region = x[:, :, self.rows[0]:self.rows[1], self.cols[0]:self.cols[1]]
        score = self.gain * region.mean(axis=[1, 2, 3])
        return paddle.stack([paddle.zeros_like(score), score], axis=1)


def grid_segments(image, grid=GRID):
    """Superpixels = the mosaic's blocks (id = row * grid + col)."""
    h, w = image.shape[:2]
    rows = np.arange(h) * grid // h
    cols = np.arange(w) * grid // w
    return rows[:, None] * grid + cols[None, :]


@pytest.fixture
def mosaic():
    """A GRID x GRID mosaic of bright, distinct flat colours (uint8 RGB)."""
    rng = np.random.default_rng(7)
    colours = rng.integers(120, 256, size=(GRID * GRID, 3)).astype(np.uint8)
    seg = grid_segments(np.zeros((SIZE, SIZE)))
    return colours[seg]


def block_bounds(block, grid=GRID, size=SIZE):
    r, c = divmod(block, grid)
    step = size // grid
    return (r * step, (r + 1) * step), (c * step, (c + 1) * step)


@pytest.fixture
def region_classifier():
    """Classifier whose class-1 score depends only on mosaic block 6 (row 1, col 2)."""
    rows, cols = block_bounds(6)
    net = RegionScoreNet(rows, cols)
    return PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=None),
                                 labels=["other", "region"])


class SmallCNN(paddle.nn.Layer):
    """A real little conv net (conv, batch norm, dropout, pooling) with random weights."""

    def __init__(self, num_classes=5):
        super().__init__()
        paddle.seed(3)
        self.features = paddle.nn.Sequential(
            paddle.nn.Conv2D(3, 8, 3, padding=1), paddle.nn.BatchNorm2D(8), paddle.nn.ReLU(),
            paddle.nn.MaxPool2D(2), paddle.nn.Conv2D(8, 16, 3, padding=1), paddle.nn.ReLU(),
        )
        self.dropout = paddle.nn.Dropout(0.5)
        self.fc = paddle.nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.features(x).mean(axis=[2, 3])
        return self.fc(self.dropout(x))


@pytest.fixture
def small_cnn():
    return SmallCNN()


# -- batch jobs (tests/test_batch*.py) ------------------------------------------------------------
BATCH_LABELS = ["cat", "cup", "person", "rocket", "bike"]
BATCH_PHOTOS = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg")


@pytest.fixture(scope="session")
def batch_model_dir(tmp_path_factory):
    """A PaddleX-style model directory (``inference.json``/``.pdiparams`` from ``paddle.jit.save`` of
    a random-init SmallCNN + ``inference.yml``): a real model that travels to workers as a path."""
    import yaml

    paddle.seed(11)
    net = SmallCNN(num_classes=len(BATCH_LABELS))
    with paddle.no_grad():
        net.fc.weight.set_value(net.fc.weight * 20)
    net.eval()
    folder = tmp_path_factory.mktemp("batch_model")
    paddle.jit.save(net, str(folder / "inference"),
                    input_spec=[paddle.static.InputSpec([None, 3, 32, 32], "float32", "x")])
    ops = [{"ResizeImage": {"resize_short": 36}}, {"CropImage": {"size": 32}},
           {"NormalizeImage": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                               "scale": 0.00392156862745098, "order": ""}}, {"ToCHWImage": None}]
    config = {"Global": {"model_name": "SmallCNN"}, "PreProcess": {"transform_ops": ops},
              "PostProcess": {"Topk": {"topk": 1, "label_list": BATCH_LABELS}}}
    (folder / "inference.yml").write_text(yaml.safe_dump(config))
    return folder


@pytest.fixture(scope="session")
def batch_photo_dir(tmp_path_factory):
    """Six real photos (scikit-image's), shrunk to 48-64 px, one of them in a sub-folder."""
    from pathlib import Path

    import skimage.data
    from PIL import Image

    source = Path(skimage.data.__file__).parent
    folder = tmp_path_factory.mktemp("batch_photos")
    (folder / "sub").mkdir()
    for i, name in enumerate(BATCH_PHOTOS):
        with Image.open(source / name) as im:
            im = im.convert("RGB")
            im.thumbnail((64, 48 + 4 * i))
            target = folder / ("sub" if i == 5 else "") / (Path(name).stem + (".jpg" if i % 2 else ".png"))
            im.save(target)
    return folder
