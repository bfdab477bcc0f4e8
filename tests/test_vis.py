"""Pictures of attribution maps: styles, percentile clipping, figures written without pyplot."""
import numpy as np
import paddle
import pytest
from PIL import Image

from conftest import block_bounds
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import PixelExplanation, load_explanation
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.vis import (STYLES, comparison_figure, normalize_map, pixel_figure, render, saliency_of,
                                   save_figure)


@pytest.fixture
def explanation():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    attribution = np.zeros((3, 32, 48))
    attribution[:, 8:16, 10:20] = 1.0
    attribution[0, 0, 0] = 1000.0  # one outlier the percentile clip must tame
    return PixelExplanation("smoothgrad", image, attribution, target=3, label_name="cat", probability=0.7,
                            params={"n_samples": 5})


def test_normalize_clips_outliers():
    s = np.zeros((10, 10))
    s[2:4, 2:4] = 1.0
    s[0, 0] = 1000.0
    n = normalize_map(s, clip_percentile=95)
    assert n[2, 2] == 1.0 and n[0, 0] == 1.0 and n[9, 9] == 0.0
    signed = normalize_map(np.array([[-2.0, 1.0], [0.0, 2.0]]), clip_percentile=100, signed=True)
    np.testing.assert_allclose(signed, [[-1, 0.5], [0, 1]])
    assert np.all(normalize_map(np.ones((3, 3))) == 0)
    with pytest.raises(ValueError, match="clip_percentile"):
        normalize_map(s, clip_percentile=0)


def test_every_style_renders(explanation):
    saliency = explanation.saliency()
    for style in STYLES:
        out = render(explanation.image, saliency, style)
        assert out.shape == (32, 48, 3) and out.dtype == np.uint8
    thresh = render(explanation.image, saliency, "threshold", keep_percentile=90)
    np.testing.assert_array_equal(thresh[10, 12], explanation.image[10, 12])   # kept
    assert np.all(thresh[30, 40] < explanation.image[30, 40].astype(int) + 1)  # darkened
    gray = render(explanation.image, saliency, "grayscale")
    assert gray[10, 12, 0] == 255 and gray[30, 40, 0] == 0
    # a low-resolution map (e.g. a CAM) is upsampled to the image
    assert render(explanation.image, np.ones((4, 6)), "heatmap").shape == (32, 48, 3)
    with pytest.raises(ValueError, match="style must be one of"):
        render(explanation.image, saliency, "sparkles")


def test_figures_and_roundtrip(explanation, tmp_path):
    fig = pixel_figure(explanation, styles=("heatmap", "overlay", "threshold"))
    assert len(fig.get_axes()) == 4 and fig.get_axes()[0].get_title() == "label cat, proba: 0.700"
    path = save_figure(fig, tmp_path / "x_smoothgrad.png")
    with Image.open(path) as img:
        assert img.format == "PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["x_smoothgrad.png"]  # no temporary file left
    other = PixelExplanation("gradcam", explanation.image, np.ones((32, 48)), 3, "cat", 0.7)
    assert len(comparison_figure([explanation, other]).get_axes()) == 3
    back = load_explanation(explanation.save(tmp_path / "e.npz"))
    assert isinstance(back, PixelExplanation) and back.method == "smoothgrad" and back.params == {"n_samples": 5}
    np.testing.assert_array_equal(back.attribution, explanation.attribution)


class ForAndAgainst(paddle.nn.Layer):
    """Class 1's logit = mean of block 5 - mean of block 10 of the mosaic: block 5 speaks for it,
    block 10 against it."""

    def forward(self, x):
        rows_a, cols_a = block_bounds(5)
        rows_b, cols_b = block_bounds(10)
        a = x[:, :, rows_a[0]:rows_a[1], cols_a[0]:cols_a[1]].mean(axis=[1, 2, 3])
        b = x[:, :, rows_b[0]:rows_b[1], cols_b[0]:cols_b[1]].mean(axis=[1, 2, 3])
        return paddle.stack([paddle.zeros_like(a), 3.0 * (a - b)], axis=1)


def test_signed_maps_are_drawn_with_their_sign(mosaic):
    """Occlusion's evidence against the class must not be painted as evidence for it (it was: the
    figure showed |attribution|, so both blocks came out equally hot)."""
    from paddlex_interpret import interpret
    from paddlex_interpret.vis import figure_mode

    clf = PaddleLayerClassifier(ForAndAgainst(), preprocess=ImagePreprocess(None, None))
    exp = interpret.occlusion(mosaic, clf, target=1, sliding_window_shapes=(3, 16, 16), strides=16,
                              save_dir=None, progress=False)
    assert figure_mode(exp) == "signed"
    drawn = saliency_of(exp)
    rows_a, cols_a = block_bounds(5)
    rows_b, cols_b = block_bounds(10)
    inside_a = drawn[rows_a[0]:rows_a[1], cols_a[0]:cols_a[1]]
    inside_b = drawn[rows_b[0]:rows_b[1], cols_b[0]:cols_b[1]]
    assert inside_a.min() > 0 and inside_b.max() < 0  # the sign survives into the figure's map
    heat = render(mosaic, drawn, "heatmap", signed=True).astype(int)
    red_a = heat[rows_a[0]:rows_a[1], cols_a[0]:cols_a[1]]
    blue_b = heat[rows_b[0]:rows_b[1], cols_b[0]:cols_b[1]]
    assert (red_a[..., 0] - red_a[..., 2]).min() > 40 and (blue_b[..., 2] - blue_b[..., 0]).min() > 40
    neutral = heat[0:16, 0:16]  # block 0: no evidence -> white
    assert neutral.min() > 240
    overlay = render(mosaic, drawn, "overlay", signed=True)
    np.testing.assert_array_equal(overlay[0:16, 0:16], mosaic[0:16, 0:16])  # neutral pixels show the image
    keep = render(mosaic, drawn, "threshold", signed=True)
    assert np.array_equal(keep[rows_a[0]:rows_a[1], cols_a[0]:cols_a[1]],
                          mosaic[rows_a[0]:rows_a[1], cols_a[0]:cols_a[1]])
    assert (keep[rows_b[0]:rows_b[1], cols_b[0]:cols_b[1]] < mosaic[rows_b[0]:rows_b[1], cols_b[0]:cols_b[1]]).all()
    grey = render(mosaic, drawn, "grayscale", signed=True)
    assert grey[0:16, 0:16].min() >= 127 and grey[0:16, 0:16].max() <= 128
    # every method's figure mode is declared: signed where the sign is meaningful
    from paddlex_interpret.engine import METHODS

    assert {n for n, s in METHODS.items() if s.figure_map == "signed"} >= {"occlusion", "intgrad", "gradshap", "lrp"}
    assert METHODS["smoothgrad"].figure_map == "absolute" and METHODS["gradcam"].figure_map == "positive"
