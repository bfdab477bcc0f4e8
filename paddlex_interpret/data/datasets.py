"""Iterating over the images of a dataset (for NormLIME's global weights).

Accepted ``dataset`` forms:

* a PaddleX-style **file list** (a text file; each non-empty, non-``#`` line is
  ``path [label ...]``; relative paths are relative to the list file's folder);
* a **folder** of images (the files with a common image extension, sorted by name, not recursive);
* a **list / tuple** of image sources (paths, arrays, PIL images);
* a ``paddle.io.Dataset`` (map-style, with ``__len__`` and ``__getitem__``) or any other
  indexable / iterable object whose items are image sources or ``(image, label, ...)``
  tuples (the first element is the image). Paddle tensors are converted with ``.numpy()``;
  channel-first ``(3, H, W)`` arrays are transposed to ``(H, W, 3)``.

Every image is returned as uint8 RGB by :func:`paddlex_interpret.data.load_image`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from .image import image_name, load_image

__all__ = ["iter_dataset_images", "dataset_size", "IMAGE_EXTENSIONS", "read_file_list"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _is_path(obj) -> bool:
    return isinstance(obj, (str, os.PathLike))


def read_file_list(path) -> List[Tuple[int, Path]]:
    """``[(line_number, image_path), ...]`` of a PaddleX file list; raises if a file is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file list not found: '{path}'")
    entries = []
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            # PaddleX lists are "path label"; split on the last whitespace run(s) so a path
            # containing spaces still works when followed by a label.
            parts = line.split()
            rel = parts[0] if len(parts) <= 2 else line.rsplit(None, 1)[0]
            image = Path(rel) if Path(rel).is_absolute() else path.parent / rel
            if not image.is_file() and len(parts) > 2:  # fall back to the first token
                image = Path(parts[0]) if Path(parts[0]).is_absolute() else path.parent / parts[0]
            if not image.is_file():
                raise FileNotFoundError(f"'{path}', line {number}: image file not found: '{image}'")
            entries.append((number, image))
    if not entries:
        raise ValueError(f"dataset file list '{path}' lists no images")
    return entries


def _folder_images(folder: Path) -> List[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"dataset folder '{folder}' contains no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def _as_image_source(item: Any):
    """The image part of a dataset item, as something :func:`load_image` accepts."""
    if isinstance(item, (tuple, list)) and not isinstance(item, np.ndarray):
        if not item:
            raise ValueError("empty dataset item")
        item = item[0]
    if isinstance(item, dict):
        for key in ("image", "img", "im"):
            if key in item:
                item = item[key]
                break
        else:
            raise ValueError(f"dict dataset item has no 'image' key (keys: {sorted(item)})")
    if hasattr(item, "numpy") and not isinstance(item, np.ndarray):  # paddle / torch tensor
        item = item.numpy()
    if isinstance(item, np.ndarray) and item.ndim == 3 and item.shape[0] in (1, 3) and item.shape[2] not in (1, 3, 4):
        item = np.transpose(item, (1, 2, 0))  # CHW -> HWC
    return item


def dataset_size(dataset) -> Optional[int]:
    """Number of images ``dataset`` yields, or None if it cannot be told cheaply."""
    if _is_path(dataset):
        p = Path(dataset)
        if p.is_dir():
            return len(_folder_images(p))
        if p.is_file():
            return len(read_file_list(p))
        return None
    try:
        return len(dataset)
    except TypeError:
        return None


def iter_dataset_images(dataset) -> Iterator[Tuple[str, np.ndarray]]:
    """Yield ``(name, uint8 RGB image)`` for every image of ``dataset`` (see the module docstring).

    ``name`` is the file name without extension for files, else ``'item<index>'``.

    Raises
    ------
    FileNotFoundError
        A missing file list / folder, or a listed image that does not exist (the message names
        the list's line number).
    ValueError
        An empty folder or list, or an item that is not an image.
    """
    if _is_path(dataset):
        p = Path(dataset)
        if p.is_dir():
            for f in _folder_images(p):
                yield f.stem, load_image(f)
            return
        if not p.exists():
            raise FileNotFoundError(f"dataset not found: '{p}' (expected a file list or a folder of images)")
        for number, f in read_file_list(p):
            try:
                image = load_image(f)
            except (ValueError, OSError) as exc:
                raise ValueError(f"'{p}', line {number}: {exc}") from exc
            yield f.stem, image
        return
    if isinstance(dataset, np.ndarray):
        if dataset.ndim == 3:
            raise TypeError("a single image array is not a dataset; pass a list of images or an (N, H, W, 3) array")
        items = (dataset[i] for i in range(len(dataset)))
        n = len(dataset)
    elif hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__") and not isinstance(dataset, (str, bytes, dict)):
        n = len(dataset)
        items = (dataset[i] for i in range(n))
    elif hasattr(dataset, "__iter__") and not isinstance(dataset, (str, bytes, dict)):
        items, n = iter(dataset), None
    else:
        raise TypeError(
            "dataset must be a file list path, a folder of images, a list of images or a paddle.io.Dataset; "
            f"got {type(dataset).__name__}"
        )
    count = 0
    for index, item in enumerate(items):
        source = _as_image_source(item)
        try:
            image = load_image(source)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"dataset item {index}: {exc}") from exc
        name = image_name(source, default=f"item{index}")
        count += 1
        yield name, image
    if count == 0:
        raise ValueError("the dataset is empty")
