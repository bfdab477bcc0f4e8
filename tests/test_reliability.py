"""Reliability corpus: odd files, odd arrays and bad arguments through every ``interpret.*`` function.

Every input either gives a correct result (a finite map at the model's geometry, equal to the result
of explaining the reference input it stands for) or a clear error: the expected exception type, a
message that names the argument or path and what is valid, raised from inside ``paddlex_interpret``
(never a traceback that ends in Paddle, numpy, PIL or OpenCV), and no file left in ``save_dir``.

The module runs the whole corpus once (``corpus`` fixture) and writes the outcome table to
``docs/reliability.md`` when ``PXI_WRITE_RELIABILITY=1``; otherwise it checks that the file is up to
date with this run.
"""
from __future__ import annotations

import contextlib
import os
import re
import struct
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import pytest
from PIL import Image

import paddlex_interpret
from conftest import SmallCNN
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine.maps import importance_map
from paddlex_interpret.models import PaddleLayerClassifier

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
PACKAGE_DIR = os.path.dirname(os.path.abspath(paddlex_interpret.__file__))
GEOMETRY = (32, 32)  # every input is resized to this by the test model's preprocessing
NUM_CLASSES = 5

IMAGE_FUNCTIONS = ("lime", "glime", "smoothgrad", "intgrad", "gradshap", "occlusion", "gradcam", "scorecam", "lrp",
                   "consensus", "compare")
PER_PIXEL = ("smoothgrad", "intgrad", "gradshap", "occlusion", "gradcam", "scorecam", "lrp")
NORMLIME_SKIP = ("`normlime` runs only in the num_samples / batch_size cases, whose checks come first: for any "
                 "other input it needs prior assets and global weights (a download or a prior build) before it "
                 "loads the image or checks target")
GROUP_NOTES = {
    "Targets": "Range and type errors come from the method (per-pixel methods and LIME check `target` before "
               "any forward pass); `consensus` and `compare` check the type of `target` before loading the model.",
    "Counts and batch sizes": "occlusion, gradcam, scorecam and lrp take no sample count and gradcam no batch size; "
                              "occlusion's batch size is `perturbations_per_eval`, LRP's a rule parameter, "
                              "consensus' and compare's go through `method_params`.",
}

# Tiny settings: each call takes milliseconds on a 32x32 input (figures take longer). G-LIME draws LIME's
# figure with the same code as lime, the slowest figure, so it runs with save_figure=False.
TINY: Dict[str, dict] = {
    "lime": dict(num_samples=10, batch_size=10, progress=False, random_state=0),
    "glime": dict(prior_method="none", num_samples=10, batch_size=10, progress=False, random_state=0,
                  save_figure=False),
    "normlime": dict(num_samples=10, batch_size=10, progress=False, random_state=0),
    "smoothgrad": dict(n_samples=2, random_state=0),
    "intgrad": dict(steps=2),
    "gradshap": dict(n_samples=2, random_state=0),
    "occlusion": dict(sliding_window_shapes=(3, 16, 16), strides=16, progress=False),
    "gradcam": {},
    "scorecam": dict(progress=False),
    "lrp": {},
    "consensus": dict(method="smoothgrad", method_params=dict(n_samples=2, random_state=0)),
    "compare": dict(methods=["lime", "gradcam"], method_params={"lime": dict(num_samples=10, random_state=0)}),
}

Expect = Union[str, Tuple[type, str]]  # "ok" or (exception type, regex over the message with <tmp>)


@dataclass
class Case:
    """One input of the corpus. ``image(dir)`` builds the input (files go into ``dir``); ``overrides``
    maps a function to the keyword arguments that replace its tiny settings; ``expect`` maps a
    function to "ok" or (type, regex); ``reference(dir)`` is what an "ok" input must explain exactly
    like (None: only the sanity checks)."""

    group: str
    name: str
    image: Callable[[Path], object]
    expect: Callable[[str], Expect]
    functions: Tuple[str, ...] = IMAGE_FUNCTIONS
    overrides: Callable[[str], dict] = lambda fn: {}
    reference: Optional[Callable[[Path], object]] = None
    not_like: Optional[Callable[[Path], object]] = None  # an input the result must NOT equal (the 2nd frame)
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    warns: Optional[type] = None
    ok_note: str = ""
    skip: Optional[str] = None


@dataclass
class Outcome:
    case: Case
    function: str
    text: str
    problems: List[str] = field(default_factory=list)


# -- inputs ------------------------------------------------------------------------------------------
def _mosaic(seed=7, shape=(40, 48)) -> np.ndarray:
    """Flat blocks of 16 distinct colours (palette-exact, so GIF frames are lossless)."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 256, size=(16, 3)).astype(np.uint8)
    rows = np.arange(shape[0]) * 4 // shape[0]
    cols = np.arange(shape[1]) * 4 // shape[1]
    return colours[rows[:, None] * 4 + cols[None, :]]


RGB = _mosaic()
SECOND = 255 - _mosaic(seed=8)  # the second frame of the animations: different everywhere
GRAY = RGB[:, :, 0]


def _save(img: Image.Image, name: str, **kwargs):
    def make(d: Path):
        path = d / name
        img.save(path, **kwargs)
        return path
    return make


def _pil_rgb(name: str):
    """PIL's own RGB conversion of the file (the reference for colour-space conversions)."""
    def ref(d: Path):
        with Image.open(d / name) as im:
            return np.asarray(im.convert("RGB"))
    return ref


def _gray3(levels: np.ndarray) -> np.ndarray:
    return np.repeat(levels.astype(np.uint8)[:, :, None], 3, axis=2)


def _cv2_write(name: str, array: np.ndarray):
    def make(d: Path):
        import cv2

        path = d / name
        if not cv2.imwrite(str(path), np.ascontiguousarray(array[:, :, ::-1])):
            raise RuntimeError(f"cv2 could not write {name}")
        return path
    return make


def _deep_rgb() -> np.ndarray:
    """16-bit RGB whose high bytes are RGB and whose low bytes are noise (so v >> 8 is checked)."""
    low = np.random.default_rng(1).integers(0, 256, size=RGB.shape)
    return (RGB.astype(np.uint16) << 8) | low.astype(np.uint16)


def _tiff16_writer():
    """A 16-bit RGB TIFF writer: OpenCV, else tifffile; None (the case is skipped) if neither writes it."""
    try:
        import cv2

        probe = np.zeros((2, 2, 3), np.uint16)
        ok, _ = cv2.imencode(".tif", probe)
        if ok:
            return _cv2_write("rgb16.tif", _deep_rgb())
    except Exception:  # noqa: BLE001 - no OpenCV or no TIFF support in it
        pass
    try:
        import tifffile
    except ImportError:
        return None

    def make(d: Path):
        path = d / "rgb16.tif"
        tifffile.imwrite(path, _deep_rgb(), photometric="rgb")
        return path
    return make


def _animation(name: str, **kwargs):
    def make(d: Path):
        path = d / name
        timing = {} if name.endswith(".tif") else {"duration": 100, "loop": 0}
        Image.fromarray(RGB).save(path, save_all=True, append_images=[Image.fromarray(SECOND)], **timing, **kwargs)
        with Image.open(path) as im:
            assert getattr(im, "n_frames", 1) == 2, f"{name} was not written with 2 frames"
        return path
    return make


def _frame_png(frame: np.ndarray, name: str):
    def make(d: Path):
        path = d / name
        Image.fromarray(frame).save(path)
        return path
    return make


def _float_tiff(values: np.ndarray, name: str):
    def make(d: Path):
        path = d / name
        Image.fromarray(values.astype(np.float32), mode="F").save(path)
        with Image.open(path) as im:
            assert im.mode == "F"
        return path
    return make


def _truncated_jpeg(d: Path):
    path = d / "truncated.jpg"
    Image.fromarray(RGB).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _text_as_jpg(d: Path):
    path = d / "notes.jpg"
    path.write_text("this is a text file, not a JPEG\n")
    return path


def _empty_file(d: Path):
    path = d / "empty.png"
    path.write_bytes(b"")
    return path


def _directory(d: Path):
    path = d / "folder.png"
    path.mkdir(exist_ok=True)
    return path


def _huge_png_header(d: Path):
    """A 200-byte PNG whose header claims 20000 x 20000 pixels (over twice Pillow's default limit)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path = d / "huge_header.png"
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@contextlib.contextmanager
def _max_pixels(limit: int, warnings_as_errors: bool = False):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with warnings.catch_warnings():
            if warnings_as_errors:
                warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield


PIXELS = RGB.shape[0] * RGB.shape[1]  # 1920


# -- expectations --------------------------------------------------------------------------------------
def ok(fn):
    return "ok"


def error(kind: type, pattern: str):
    return lambda fn: (kind, pattern)


def _count_argument(fn: str) -> Tuple[str, int]:
    """The sample/step count argument each function takes, and its minimum."""
    return {"lime": ("num_samples", 2), "glime": ("num_samples", 2), "normlime": ("num_samples", 2),
            "smoothgrad": ("n_samples", 1), "gradshap": ("n_samples", 1), "intgrad": ("steps", 1),
            "consensus": ("n_samples", 1), "compare": ("lime_num_samples", 2)}[fn]


def _count_overrides(value):
    def over(fn):
        name, _ = _count_argument(fn)
        if fn == "consensus":
            return {"method_params": {"n_samples": value, "random_state": 0}}
        return {name: value}
    return over


def _batch_argument(fn: str) -> str:
    return "perturbations_per_eval" if fn == "occlusion" else "batch_size"


def _batch_overrides(value):
    def over(fn):
        if fn == "consensus":
            return {"method_params": {"n_samples": 2, "random_state": 0, "batch_size": value}}
        if fn == "compare":
            return {"method_params": {"lime": {"num_samples": 10, "random_state": 0, "batch_size": value}}}
        if fn == "lrp":
            return {"batch_size": value}  # one of LRP's **rule_params
        return {_batch_argument(fn): value}
    return over


def _int_check(name: str, value, minimum: int) -> Expect:
    if isinstance(value, int) and not isinstance(value, bool):
        return ValueError, rf"^{name} must be >= {minimum}, got {value}$"
    return TypeError, rf"^{name} must be an int >= {minimum}, got {re.escape(repr(value))}$"


def _target_type_error(value):
    return TypeError, rf"\btarget must be .*int class index.*got {re.escape(repr(value))}$"


OUT_OF_RANGE = r"^target={} is out of range: the model has 5 classes \(valid: 0\.\.4\)$"


def _cases() -> List[Case]:
    cases: List[Case] = []
    add = cases.append
    # files: colour spaces, bit depths, frames
    G = "Image files"
    add(Case(G, "CMYK JPEG", _save(Image.fromarray(RGB).convert("CMYK"), "cmyk.jpg", quality=95), ok,
             reference=_pil_rgb("cmyk.jpg"), ok_note="= Pillow's CMYK->RGB conversion of the file"))
    add(Case(G, "YCbCr JPEG (saved from a YCbCr image)",
             _save(Image.fromarray(RGB).convert("YCbCr"), "ycbcr.jpg", quality=95), ok,
             reference=_pil_rgb("ycbcr.jpg"), ok_note="= the JPEG decoded to RGB"))
    add(Case(G, "YCbCr TIFF (opens in mode YCbCr)", _save(Image.fromarray(RGB).convert("YCbCr"), "ycbcr.tif"), ok,
             reference=_pil_rgb("ycbcr.tif"), ok_note="= Pillow's YCbCr->RGB conversion"))
    unit = GRAY / 255.0
    add(Case(G, "float TIFF (mode F), values in [0, 1]", _float_tiff(unit, "unit.tif"), ok,
             reference=lambda d: _gray3(np.round(unit.astype(np.float32).astype(np.float64) * 255)),
             ok_note="= round(255 v), grey to 3 channels"))
    add(Case(G, "float TIFF (mode F), values in [0, 255]", _float_tiff(GRAY + 0.25, "levels.tif"), ok,
             reference=lambda d: _gray3(np.round(GRAY + 0.25)), ok_note="= round(v) (8-bit levels)"))
    deep = GRAY.astype(np.float64) * 257 + 100
    add(Case(G, "float TIFF (mode F), values in [0, 65535]", _float_tiff(deep, "deep.tif"), ok,
             reference=lambda d: _gray3(np.floor(deep / 256)), ok_note="= floor(v / 256) (as 16-bit files)"))
    signed = GRAY.astype(np.float64) / 64 - 2.0
    add(Case(G, "float TIFF (mode F), negative values", _float_tiff(signed, "signed.tif"), ok,
             reference=lambda d: _gray3(np.round((signed - signed.min()) * 255 / np.ptp(signed))),
             ok_note="= stretched min..max -> 0..255"))
    nan = GRAY.astype(np.float64).copy()
    nan[0, 0] = np.nan
    add(Case(G, "float TIFF (mode F) with a NaN", _float_tiff(nan, "nan.tif"),
             error(ValueError, r"^image '<tmp>/nan\.tif' \(mode 'F'\) cannot be read as RGB: float image contains "
                               r"NaN or infinite values$")))
    add(Case(G, "16-bit RGB PNG", _cv2_write("rgb16.png", _deep_rgb()), ok,
             reference=lambda d: (_deep_rgb() >> 8).astype(np.uint8), ok_note="= v >> 8"))
    tiff16 = _tiff16_writer()
    add(Case(G, "16-bit RGB TIFF", tiff16 or (lambda d: None), ok,
             reference=lambda d: (_deep_rgb() >> 8).astype(np.uint8), ok_note="= v >> 8",
             skip=None if tiff16 else "neither OpenCV (no TIFF codec) nor tifffile (not installed) can write a "
                                      "16-bit RGB TIFF here"))
    add(Case(G, "16-bit grey PNG (mode I;16)", _save(Image.fromarray((GRAY.astype(np.uint16) << 8) | 7), "gray16.png"),
             ok, reference=lambda d: _gray3(GRAY), ok_note="= v >> 8, grey to 3 channels"))
    add(Case(G, "animated GIF, 2 frames", _animation("anim.gif"), ok, reference=_frame_png(RGB, "first_gif.png"),
             not_like=_frame_png(SECOND, "second_gif.png"), ok_note="= the first frame saved alone (not the second)"))
    add(Case(G, "animated WebP, 2 frames", _animation("anim.webp", lossless=True), ok,
             reference=_frame_png(RGB, "first_webp.png"), not_like=_frame_png(SECOND, "second_webp.png"),
             ok_note="= the first frame saved alone (not the second)"))
    add(Case(G, "animated PNG (APNG), 2 frames", _animation("anim.png"), ok,
             reference=_frame_png(RGB, "first_apng.png"), not_like=_frame_png(SECOND, "second_apng.png"),
             ok_note="= the first frame saved alone (not the second)"))
    add(Case(G, "multi-page TIFF, 2 pages", _animation("pages.tif"), ok,
             reference=_frame_png(RGB, "first_tif.png"), not_like=_frame_png(SECOND, "second_tif.png"),
             ok_note="= the first page saved alone (not the second)"))
    default_limit = Image.MAX_IMAGE_PIXELS
    add(Case(G, "PNG header claiming 20000 x 20000 pixels (default MAX_IMAGE_PIXELS)", _huge_png_header,
             error(ValueError, rf"^image '<tmp>/huge_header\.png' has 400000000 pixels, more than twice "
                               rf"PIL\.Image\.MAX_IMAGE_PIXELS = {default_limit}: .*raise PIL\.Image\.MAX_IMAGE_PIXELS "
                               r"\(e\.g\. PIL\.Image\.MAX_IMAGE_PIXELS = 400000000\)")))
    bomb_limit = PIXELS // 4
    add(Case(G, f"{PIXELS}-pixel PNG, PIL.Image.MAX_IMAGE_PIXELS = {bomb_limit} (over twice the limit)",
             _save(Image.fromarray(RGB), "bomb.png"),
             error(ValueError, rf"^image '<tmp>/bomb\.png' has {PIXELS} pixels, more than twice "
                               rf"PIL\.Image\.MAX_IMAGE_PIXELS = {bomb_limit}: .*raise PIL\.Image\.MAX_IMAGE_PIXELS"),
             context=lambda: _max_pixels(bomb_limit)))
    warn_limit = PIXELS * 2 // 3
    add(Case(G, f"{PIXELS}-pixel PNG, MAX_IMAGE_PIXELS = {warn_limit} (warning zone), warnings as errors",
             _save(Image.fromarray(RGB), "bomb_warning.png"),
             error(ValueError, rf"^image '<tmp>/bomb_warning\.png' has {PIXELS} pixels, more than "
                               rf"PIL\.Image\.MAX_IMAGE_PIXELS = {warn_limit}: .*raise PIL\.Image\.MAX_IMAGE_PIXELS"),
             context=lambda: _max_pixels(warn_limit, warnings_as_errors=True)))
    add(Case(G, f"{PIXELS}-pixel PNG, MAX_IMAGE_PIXELS = {warn_limit} (warning zone), default warning filters",
             _save(Image.fromarray(RGB), "bomb_warning_default.png"), ok, reference=lambda d: RGB,
             context=lambda: _max_pixels(warn_limit), warns=Image.DecompressionBombWarning,
             ok_note="with Pillow's DecompressionBombWarning (Pillow's own policy)"))
    add(Case(G, "truncated JPEG (first half of the file)", _truncated_jpeg,
             error(ValueError, r"^cannot read image '<tmp>/truncated\.jpg': ")))
    add(Case(G, "text file named .jpg", _text_as_jpg,
             error(ValueError, r"^cannot read image '<tmp>/notes\.jpg': cannot identify image file")))
    add(Case(G, "empty (0-byte) .png file", _empty_file,
             error(ValueError, r"^cannot read image '<tmp>/empty\.png': cannot identify image file")))
    add(Case(G, "missing file", lambda d: d / "missing.jpg",
             error(FileNotFoundError, r"^image file not found: '<tmp>/missing\.jpg'$")))
    add(Case(G, "a directory as the image path", _directory,
             error(ValueError, r"^expected an image file, got a directory: '<tmp>/folder\.png'$")))

    # arrays and PIL objects
    G = "Arrays and PIL images"
    empty = r"^image array is empty: shape \({}\)$"
    shape = r"^image array must have shape \(H, W\), \(H, W, 1\), \(H, W, 3\) or \(H, W, 4\); got \({}\)"
    add(Case(G, "zero-size array (0, 0, 3) uint8", lambda d: np.zeros((0, 0, 3), np.uint8),
             error(ValueError, empty.format(r"0, 0, 3"))))
    add(Case(G, "array (0, 10, 3) uint8", lambda d: np.zeros((0, 10, 3), np.uint8),
             error(ValueError, empty.format(r"0, 10, 3"))))
    add(Case(G, "1-D empty array", lambda d: np.zeros((0,), np.float32), error(ValueError, shape.format(r"0,"))))
    add(Case(G, "single pixel (1, 1, 3)", lambda d: RGB[:1, :1], ok, reference=lambda d: RGB[:1, :1].copy(),
             ok_note="resized to the model's input"))
    add(Case(G, "non-contiguous view arr[:, ::-1]", lambda d: RGB[:, ::-1], ok,
             reference=lambda d: np.ascontiguousarray(RGB[:, ::-1]), ok_note="= its contiguous copy"))
    add(Case(G, "transposed view arr.transpose(1, 0, 2)", lambda d: RGB.transpose(1, 0, 2), ok,
             reference=lambda d: np.ascontiguousarray(RGB.transpose(1, 0, 2)), ok_note="= its contiguous copy"))
    add(Case(G, "strided view arr[::2, ::2]", lambda d: RGB[::2, ::2], ok,
             reference=lambda d: np.ascontiguousarray(RGB[::2, ::2]), ok_note="= its contiguous copy"))
    add(Case(G, "float array in [0, 1]", lambda d: RGB / 255.0, ok, reference=lambda d: RGB, ok_note="= round(255 v)"))
    def floats(values):
        found = re.escape(f"[{float(values.min()):.3g}, {float(values.max()):.3g}]")
        return error(ValueError, rf"^float images must lie in \[0, 1\]; got values in {found} \(pass uint8 for "
                                 r"0-255 data\)$")
    add(Case(G, "float array in [0, 255]", lambda d: RGB.astype(np.float32), floats(RGB.astype(np.float32))))
    add(Case(G, "float array in [-1, 1]", lambda d: RGB / 127.5 - 1.0, floats(RGB / 127.5 - 1.0)))
    add(Case(G, "float array over 255", lambda d: RGB + 300.0, floats(RGB + 300.0)))
    add(Case(G, "float array with a NaN", lambda d: np.where(RGB == RGB.max(), np.nan, RGB / 255.0),
             error(ValueError, r"^float image contains NaN or infinite values$")))
    rgba = np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)])
    add(Case(G, "4-channel (RGBA) uint8 array", lambda d: rgba, ok, reference=lambda d: RGB,
             ok_note="alpha dropped"))
    add(Case(G, "2-channel array", lambda d: RGB[:, :, :2], error(ValueError, shape.format(r"40, 48, 2"))))
    add(Case(G, "batch of one (1, H, W, 3)", lambda d: RGB[None], error(ValueError, shape.format(r"1, 40, 48, 3"))))
    add(Case(G, "bool array (H, W)", lambda d: GRAY > 128, ok, reference=lambda d: _gray3((GRAY > 128) * 255),
             ok_note="False -> 0, True -> 255"))
    add(Case(G, "bool array (H, W, 3)", lambda d: RGB > 128, ok, reference=lambda d: (RGB > 128).astype(np.uint8) * 255,
             ok_note="False -> 0, True -> 255"))
    add(Case(G, "uint16 array", lambda d: _deep_rgb(), ok, reference=lambda d: (_deep_rgb() >> 8).astype(np.uint8),
             ok_note="= v >> 8"))
    add(Case(G, "big-endian uint16 array, dark (max <= 255)", lambda d: (RGB // 2).astype(">u2"), ok,
             reference=lambda d: np.zeros_like(RGB), ok_note="= v >> 8 (16-bit levels, not 8-bit)"))
    add(Case(G, "int64 array with negative values", lambda d: RGB.astype(np.int64) - 100,
             error(ValueError, r"^integer image has negative values \(dtype int64\)$")))
    add(Case(G, "object array", lambda d: RGB.astype(object),
             error(ValueError, r"^unsupported image dtype object; valid: uint8, uint16")))
    add(Case(G, "PIL image in mode CMYK", lambda d: Image.fromarray(RGB).convert("CMYK"), ok,
             reference=lambda d: np.asarray(Image.fromarray(RGB).convert("CMYK").convert("RGB")),
             ok_note="= Pillow's CMYK->RGB conversion"))
    add(Case(G, "PIL image in mode LAB", lambda d: Image.fromarray(RGB).convert("LAB"), ok,
             reference=lambda d: np.asarray(Image.fromarray(RGB).convert("LAB").convert("RGB")),
             ok_note="= Pillow's LAB->RGB conversion"))
    add(Case(G, "nested Python list", lambda d: RGB.tolist(),
             error(TypeError, r"^image must be a file path, a numpy array \(H, W\[, C\]\) or a PIL\.Image, got list$")))
    add(Case(G, "None as the image", lambda d: None,
             error(TypeError, r"^image must be a file path, a numpy array \(H, W\[, C\]\) or a PIL\.Image, "
                              r"got NoneType$")))

    # targets (the image is a valid array)
    G = "Targets"
    valid = lambda d: RGB  # noqa: E731
    for value in (-1, NUM_CLASSES):
        add(Case(G, f"target={value}", valid, error(ValueError, OUT_OF_RANGE.format(value)),
                 overrides=lambda fn, v=value: {"target": v}))
    for value in (1.5, "1", True):
        add(Case(G, f"target={value!r}", valid, lambda fn, v=value: _target_type_error(v),
                 overrides=lambda fn, v=value: {"target": v}))
    add(Case(G, "target=numpy.int64(2)", valid, ok, overrides=lambda fn: {"target": np.int64(2)},
             reference=lambda d: RGB, ok_note="explains class 2"))
    add(Case(G, "consensus target=[None, 2] (None: that model's top-1)", valid, ok, functions=("consensus",),
             overrides=lambda fn: {"target": [None, 2]}, reference=lambda d: RGB))
    add(Case(G, "consensus target=[0, -1]", valid, error(ValueError, OUT_OF_RANGE.format(-1)), functions=("consensus",),
             overrides=lambda fn: {"target": [0, -1]}))
    add(Case(G, "consensus target=[0] for 2 models", valid,
             error(ValueError, r"^target must give one class per model \(or None for its top-1\): 2 models, "
                               r"got 1 targets$"),
             functions=("consensus",), overrides=lambda fn: {"target": [0]}))
    add(Case(G, "consensus target=[0, 1.5]", valid, lambda fn: _target_type_error([0, 1.5]), functions=("consensus",),
             overrides=lambda fn: {"target": [0, 1.5]}))
    add(Case(G, "compare target=[1, 2]", valid, lambda fn: _target_type_error([1, 2]), functions=("compare",),
             overrides=lambda fn: {"target": [1, 2]}))

    # counts and batch sizes
    G = "Counts and batch sizes"
    counted = ("lime", "glime", "normlime", "smoothgrad", "intgrad", "gradshap", "consensus", "compare")
    batched = ("lime", "glime", "normlime", "smoothgrad", "intgrad", "gradshap", "occlusion", "scorecam", "lrp",
               "consensus", "compare")
    for value in (True, 2.0, "10", 0, -3):
        add(Case(G, f"sample count = {value!r} (num_samples / n_samples / steps / lime_num_samples)", valid,
                 lambda fn, v=value: (TypeError, rf"^num_samples must be an int >= 2 or 'auto', got {re.escape(repr(v))}$")
                 if fn == "lime" and isinstance(v, str) else _int_check(_count_argument(fn)[0], v, _count_argument(fn)[1]),
                 functions=counted, overrides=_count_overrides(value)))
        add(Case(G, f"batch size = {value!r} (batch_size; occlusion: perturbations_per_eval)", valid,
                 lambda fn, v=value: _int_check(_batch_argument(fn), v, 1),
                 functions=batched, overrides=_batch_overrides(value)))

    # other arguments every function checks
    G = "Other arguments"
    add(Case(G, "save_dir=123", valid,
             error(TypeError, r"^save_dir must be a folder path \(str or os\.PathLike\) or None, got int$"),
             overrides=lambda fn: {"save_dir": 123, "save_figure": True}))
    add(Case(G, "save_dir = an existing file", valid,
             error(NotADirectoryError, r"^save_dir exists and is not a folder: '<tmp>/a_file\.txt'$"),
             overrides=lambda fn: {"save_dir": "<file>", "save_figure": True}))
    add(Case(G, "channel_order='rgba'", valid,
             error(ValueError, r"^channel_order must be 'rgb' or 'bgr', got 'rgba'$"),
             overrides=lambda fn: {"channel_order": "rgba"}))
    add(Case(G, "styles=None", valid, error(TypeError, r"^styles must be a non-empty list of \("),
             functions=PER_PIXEL + ("consensus",), overrides=lambda fn: {"styles": None}))
    add(Case(G, "compare style='sparkles'", valid, error(ValueError, r"^style must be one of \(.*got 'sparkles'$"),
             functions=("compare",), overrides=lambda fn: {"style": "sparkles"}))
    for value in (None, True, float("nan")):
        add(Case(G, f"hide_color={value!r}", valid,
                 error(TypeError if value is None or value is True else ValueError,
                       rf"^hide_color must be a number, an \(r, g, b\) triple in 0\.\.255 or 'mean'; "
                       rf"got {re.escape(repr(value))}$"),
                 functions=("lime", "glime"), overrides=lambda fn, v=value: {"hide_color": v}))
    add(Case(G, "gradient_of=['logit'] (a list)", valid,
             error(ValueError, r"^gradient_of must be one of \('probability', 'logit', 'loss'\), got \['logit'\]$"),
             functions=("smoothgrad", "intgrad", "gradshap"), overrides=lambda fn: {"gradient_of": ["logit"]}))

    # model and method lists
    G = "Model and method lists"
    add(Case(G, "consensus models=[]", valid, error(ValueError, r"^models must hold at least one model$"),
             functions=("consensus",), overrides=lambda fn: {"models": []}))
    add(Case(G, "consensus models=None", valid,
             error(TypeError, r"^models must be a list of models \(for one model pass \[model\]\), got NoneType$"),
             functions=("consensus",), overrides=lambda fn: {"models": None}))
    add(Case(G, "consensus models=<one model, not in a list>", valid,
             error(TypeError, r"^models must be a list of models \(for one model pass \[model\]\), "
                              r"got PaddleLayerClassifier$"),
             functions=("consensus",), overrides=lambda fn: {"models": "<classifier>"}))
    add(Case(G, "consensus method='shap' (unknown)", valid,
             error(ValueError, r"^unknown method 'shap'; choose from \["), functions=("consensus",),
             overrides=lambda fn: {"method": "shap"}))
    add(Case(G, "compare methods=[]", valid, error(ValueError, r"^methods must name at least one method$"),
             functions=("compare",), overrides=lambda fn: {"methods": [], "method_params": None}))
    add(Case(G, "compare methods=['lime', 'shap'] (unknown)", valid,
             error(ValueError, r"^unknown method 'shap'; choose from \["), functions=("compare",),
             overrides=lambda fn: {"methods": ["lime", "shap"]}))
    add(Case(G, "compare methods='lime' (a str, not a list)", valid,
             error(TypeError, r"^methods must be a list of method names \(e\.g\. \['lime', 'gradcam'\]\), "
                              r"got 'lime'$"),
             functions=("compare",), overrides=lambda fn: {"methods": "lime", "method_params": None}))
    return cases



CASES = _cases()
CASE_IDS = [f"{c.group}: {c.name}" for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "case names must be unique"


# -- running --------------------------------------------------------------------------------------------
def _classifiers():
    pre = ImagePreprocess(resize_short=None, resize_to=GEOMETRY, crop_size=None)
    return (PaddleLayerClassifier(SmallCNN(NUM_CLASSES), preprocess=pre, labels=list("abcde")),
            PaddleLayerClassifier(SmallCNN(NUM_CLASSES), preprocess=pre, labels=list("abcde")))


def _call(fn: str, image, models, save_dir, overrides: dict):
    kwargs = {**TINY[fn], **overrides}
    if kwargs.pop("save_dir", None) == "<file>":  # a file where the folder should be
        save_dir = Path(save_dir).parent / "a_file.txt"
        save_dir.write_text("not a folder\n")
    elif "save_dir" in overrides:
        save_dir = overrides["save_dir"]
    if fn == "consensus":
        chosen = kwargs.pop("models", list(models))
        chosen = models[0] if chosen == "<classifier>" else chosen
        return interpret.consensus(image, chosen, save_dir=save_dir, **kwargs)
    return getattr(interpret, fn)(image, models[0], save_dir=save_dir, **kwargs)


def _explanations(result) -> list:
    return list(result) if isinstance(result, list) else [result]


def _maps(result) -> List[np.ndarray]:
    return [importance_map(e, "signed") for e in _explanations(result)]


def _images(result) -> List[np.ndarray]:
    return [np.asarray(e.image) for e in _explanations(result)]


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_images(a), _images(b))) and all(
        np.allclose(x, y, rtol=1e-5, atol=1e-7) for x, y in zip(_maps(a), _maps(b)))


def _sanitise(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<tmp>")
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    return text


def _check_ok(case: Case, fn: str, result, save_dir: Path, workdir: Path, models, problems: List[str]):
    for m in _maps(result):
        if m.shape != GEOMETRY or not np.all(np.isfinite(m)):
            problems.append(f"map has shape {m.shape} or non-finite values (expected a finite {GEOMETRY} map)")
    for img in _images(result):
        if img.shape != GEOMETRY + (3,) or img.dtype != np.uint8:
            problems.append(f"explained image is {img.dtype} {img.shape}, not uint8 {GEOMETRY + (3,)}")
    files = sorted(p.name for p in save_dir.iterdir()) if save_dir.exists() else []
    figure = _explanations(result)[0].figure_path
    if TINY[fn].get("save_figure", True):
        if not figure or files != [Path(figure).name]:
            problems.append(f"expected exactly the figure in save_dir, found {files} (figure_path {figure!r})")
    elif figure is not None or files:
        problems.append(f"save_figure=False, yet figure_path is {figure!r} and save_dir holds {files}")
    overrides = case.overrides(fn)
    if case.reference is not None:
        with case.context(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = _call(fn, case.reference(workdir), models, None, overrides)
        if not _same(result, ref):
            problems.append("result differs from explaining the reference input")
    if case.not_like is not None:
        other = _call(fn, case.not_like(workdir), models, None, overrides)
        if all(np.array_equal(x, y) for x, y in zip(_images(result), _images(other))):
            problems.append("result equals explaining the frame that must not be used")
    if "target" in overrides and not isinstance(overrides["target"], list):
        got = {e.target for e in _explanations(result)}
        if got != {int(overrides["target"])}:
            problems.append(f"explained classes {got}, asked for {overrides['target']!r}")


def _check_error(exc: BaseException, expected: Tuple[type, str], text: str, save_dir: Path, problems: List[str]):
    kind, pattern = expected
    if not isinstance(exc, kind):
        problems.append(f"expected {kind.__name__}, got {type(exc).__name__}")
    if not re.search(pattern, text.split(": ", 1)[1]):
        problems.append(f"message does not match {pattern!r}")
    frames = traceback.extract_tb(exc.__traceback__)
    last = os.path.abspath(frames[-1].filename) if frames else "?"
    if not last.startswith(PACKAGE_DIR + os.sep):
        problems.append(f"traceback ends outside paddlex_interpret: {last}:{frames[-1].lineno}")
    if save_dir.exists() and any(save_dir.iterdir()):
        problems.append(f"files left in save_dir on error: {sorted(p.name for p in save_dir.iterdir())}")


def _run_one(case: Case, fn: str, models, workdir: Path, tmp: Path) -> Outcome:
    expected = case.expect(fn)
    save_dir = workdir / f"out_{fn}"
    problems: List[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with case.context():
                image = case.image(workdir)
                result = _call(fn, image, models, save_dir, case.overrides(fn))
        except Exception as exc:  # noqa: BLE001 - every exception is an outcome to check
            text = _sanitise(f"{type(exc).__name__}: {exc}", tmp)
            if expected == "ok":
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                problems.append(f"expected a result, got {text} (raised at {frame.filename}:{frame.lineno})")
            else:
                _check_error(exc, expected, text, save_dir, problems)
            return Outcome(case, fn, text, problems)
    if expected != "ok":
        problems.append(f"expected {expected[0].__name__} matching {expected[1]!r}, got a result")
        return Outcome(case, fn, "no error (unexpected)", problems)
    if case.warns is not None and not any(issubclass(w.category, case.warns) for w in caught):
        problems.append(f"expected a {case.warns.__name__}")
    _check_ok(case, fn, result, save_dir, workdir, models, problems)
    text = f"ok: finite {GEOMETRY[0]}x{GEOMETRY[1]} map"
    return Outcome(case, fn, text + (f"; {case.ok_note}" if case.ok_note else ""), problems)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Dict[str, List[Outcome]]:
    tmp = tmp_path_factory.mktemp("reliability")
    models = _classifiers()
    results: Dict[str, List[Outcome]] = {}
    for i, (case_id, case) in enumerate(zip(CASE_IDS, CASES)):
        if case.skip:
            results[case_id] = []
            continue
        workdir = tmp / f"case{i:02d}"
        workdir.mkdir()
        results[case_id] = [_run_one(case, fn, models, workdir, workdir) for fn in case.functions]
    return results


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_input(corpus, case_id):
    case = CASES[CASE_IDS.index(case_id)]
    if case.skip:
        pytest.skip(case.skip)
    problems = [f"{o.function}: {p}  [outcome: {o.text}]" for o in corpus[case_id] for p in o.problems]
    assert not problems, "\n".join(problems)


# -- the outcome table ----------------------------------------------------------------------------------
def _function_list(functions: List[str], all_of: Tuple[str, ...]) -> str:
    if tuple(functions) == all_of and all_of == IMAGE_FUNCTIONS:
        return f"all {len(functions)}"
    return ", ".join(functions)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(corpus: Dict[str, List[Outcome]]) -> str:
    runs = sum(len(v) for v in corpus.values())
    lines = [
        "# Reliability: odd inputs and bad arguments, and what every function does with them",
        "",
        "<!-- Generated by tests/test_reliability.py; do not edit by hand. -->",
        "",
        "`tests/test_reliability.py` runs a corpus of unusual image files, arrays and argument values",
        "through every image function of `paddlex_interpret.interpret` (on a small CNN whose",
        f"preprocessing resizes every input to {GEOMETRY[0]}x{GEOMETRY[1]}, with tiny method settings) and",
        "writes this table from that run. Each outcome is either a result (a finite map at the model's",
        "geometry, identical to explaining the reference input named after '=') or an error whose type and",
        "message the test checks: it names the argument or the path and what is valid, it is raised inside",
        "`paddlex_interpret` (no traceback ends in Paddle, numpy, PIL or OpenCV), and nothing is left in",
        "`save_dir`. Without the environment variable below the test fails when this file is out of date.",
        "",
        "Regenerate it with:",
        "",
        "```",
        "PXI_WRITE_RELIABILITY=1 python -m pytest tests/test_reliability.py",
        "```",
        "",
        f"Inputs tried: **{len(CASES)}**; runs (input x function): **{runs}**.",
        "",
        "Functions: " + ", ".join(f"`{f}`" for f in IMAGE_FUNCTIONS) + " (`glime` with `prior_method='none'`,"
        " and `save_figure=False` (its figure is LIME's), `consensus` over two models with SmoothGrad, `compare`"
        " with LIME and Grad-CAM: every map of the comparison is checked); 'all 11' means every one of them. " + NORMLIME_SKIP + ".",
        "",
        "Rules the table shows: multi-frame files (animated GIF/WebP/PNG, multi-page TIFF) are read at their",
        "first frame; CMYK, YCbCr, LAB and palette images are converted to RGB by Pillow; 16-bit images",
        "become `v >> 8`; float (mode F) files are read by the smallest of the ranges [0, 1], [0, 255],",
        "[0, 65535] that holds them, else stretched min..max (see `paddlex_interpret.data.load_image`);",
        "float arrays must lie in [0, 1]; a file over `PIL.Image.MAX_IMAGE_PIXELS` is refused as Pillow",
        "refuses it (an error above twice the limit, Pillow's warning between the limit and twice it).",
    ]
    group = None
    for case_id, case in zip(CASE_IDS, CASES):
        if case.group != group:
            group = case.group
            lines += ["", f"## {group}", ""]
            if group in GROUP_NOTES:
                lines += [GROUP_NOTES[group], ""]
            lines += ["| input | functions | outcome |", "|---|---|---|"]
        outcomes = corpus[case_id]
        if case.skip:
            lines.append(f"| {_cell(case.name)} | - | skipped: {_cell(case.skip)} |")
            continue
        by_text: Dict[str, List[str]] = {}
        for o in outcomes:
            by_text.setdefault(o.text, []).append(o.function)
        first = True
        for text, functions in by_text.items():
            name = _cell(case.name) if first else '"'
            lines.append(f"| {name} | {_function_list(functions, case.functions)} | {_cell(text)} |")
            first = False
    return "\n".join(lines) + "\n"


def test_outcome_table_is_up_to_date(corpus):
    skipped = [f"{c.name} ({c.skip})" for c in CASES if c.skip]
    text = render(corpus)
    if os.environ.get("PXI_WRITE_RELIABILITY") == "1":
        DOC.write_text(text, encoding="utf-8")
        return
    if skipped:
        pytest.skip(f"the table cannot be compared when cases were skipped here: {'; '.join(skipped)}")
    assert DOC.exists(), f"{DOC} is missing; run PXI_WRITE_RELIABILITY=1 python -m pytest tests/test_reliability.py"
    assert DOC.read_text(encoding="utf-8") == text, (
        f"{DOC.name} is out of date with this run; regenerate it with "
        "PXI_WRITE_RELIABILITY=1 python -m pytest tests/test_reliability.py")
