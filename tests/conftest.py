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
