"""Pictures of attribution maps: styles, percentile clipping, figures written without pyplot."""
import numpy as np
import pytest
from PIL import Image

from paddlex_interpret.engine import PixelExplanation, load_explanation
from paddlex_interpret.vis import STYLES, comparison_figure, normalize_map, pixel_figure, render, save_figure


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
