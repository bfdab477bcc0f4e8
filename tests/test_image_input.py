"""Image input: every common file and array kind becomes the right uint8 RGB array."""
import numpy as np
import pytest
from PIL import Image

from paddlex_interpret.data import ImagePreprocess, load_image


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)


def test_path_pil_and_array_agree(rgb, tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(rgb).save(path)
    np.testing.assert_array_equal(load_image(path), rgb)
    np.testing.assert_array_equal(load_image(str(path)), rgb)
    np.testing.assert_array_equal(load_image(Image.fromarray(rgb)), rgb)
    np.testing.assert_array_equal(load_image(rgb), rgb)
    np.testing.assert_array_equal(load_image(rgb[:, :, ::-1], channel_order="bgr"), rgb)


def test_exif_orientation_is_applied(rgb, tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(rgb).save(path, exif=exif, quality=100)
    out = load_image(path)
    assert out.shape == (40, 30, 3)  # displayed upright: width and height swap


def test_grayscale_palette_rgba_and_16bit(rgb, tmp_path):
    gray = rgb[:, :, 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (30, 40, 3) and np.all(out == gray[:, :, None])

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), rgb)  # alpha dropped, as cv2.imread
    np.testing.assert_array_equal(load_image(rgba), rgb)

    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    pal = Image.open(tmp_path / "p.png")
    assert pal.mode == "P"
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), np.asarray(pal.convert("RGB")))

    la = Image.fromarray(gray).convert("LA")
    np.testing.assert_array_equal(load_image(la), np.repeat(gray[:, :, None], 3, 2))

    deep = gray.astype(np.uint16) * 257  # 16-bit with the same visible levels
    Image.fromarray(deep).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    np.testing.assert_array_equal(load_image(tmp_path / "d.png"), np.repeat(gray[:, :, None], 3, 2))
    np.testing.assert_array_equal(load_image(np.dstack([deep] * 3)), np.dstack([gray] * 3))


def test_float_and_bool_arrays(rgb):
    np.testing.assert_array_equal(load_image(rgb / 255.0), rgb)
    assert load_image(np.ones((2, 2), bool)).max() == 255
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        load_image(rgb.astype(np.float32))
    with pytest.raises(ValueError, match="NaN"):
        load_image(np.full((2, 2), np.nan))


def test_missing_corrupt_and_wrong_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        load_image(tmp_path / "nope.jpg")
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ValueError, match="cannot read image .*corrupt.jpg"):
        load_image(bad)
    good = tmp_path / "trunc.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 90).save(good)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.png"):
        load_image(good)
    with pytest.raises(ValueError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(ValueError, match="shape"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(TypeError, match="file path, a numpy array"):
        load_image(12)
    with pytest.raises(ValueError, match="channel_order"):
        load_image(np.zeros((4, 4, 3), np.uint8), channel_order="rgba")


def test_preprocess_geometry_and_normalisation():
    img = np.zeros((300, 400, 3), np.uint8)
    img[:, :200] = 255
    pre = ImagePreprocess(resize_short=256, crop_size=224)
    out = pre.geometry(img)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    x = pre(out[None])
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    expected_white = (1.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[0, :, 100, 5], expected_white, rtol=1e-5)
    # a 1x1 image is enlarged, never an error
    assert pre.geometry(np.full((1, 1, 3), 9, np.uint8)).shape == (224, 224, 3)
    # no resize but crop larger than the image: enlarged just enough
    assert ImagePreprocess(resize_short=None, crop_size=50).geometry(img[:20, :30]).shape == (50, 50, 3)
    with pytest.raises(ValueError, match="interpolation"):
        ImagePreprocess(interpolation="cubic-ish")
    with pytest.raises(ValueError, match="std must be non-zero"):
        ImagePreprocess(std=(1, 0, 1))
    custom = ImagePreprocess(resize_short=None, crop_size=None, normalize=lambda b: b.transpose(0, 3, 1, 2) / 2.0)
    assert custom(np.full((1, 2, 2, 3), 4, np.uint8)).max() == 2.0
