"""The inputs of a batch job as items with stable keys: a folder (searched recursively), a glob
pattern, a PaddleX file list, a list of paths, or a dataset (``paddle.io.Dataset``, a list of
arrays / PIL images, an ``(N, H, W, 3)`` array).

A file's key is its path relative to the folder (or to the common folder of a list / glob / file
list), with ``/`` separators; an in-memory item's key is ``item<index>``. Keys name the outputs and
seed each item, so they do not depend on the backend or the order work finishes in.
"""
from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import numpy as np

from ..data.datasets import IMAGE_EXTENSIONS, read_file_list

__all__ = ["Item", "collect_inputs", "Inputs", "item_seed", "hash_bytes", "hash_array"]


@dataclass
class Item:
    """One input: ``key`` (stable name), ``index`` (position in the job) and its source: a file
    ``path`` or a ``load()`` callable for in-memory dataset items."""

    index: int
    key: str
    path: Optional[Path] = None
    load: Optional[object] = None


class Inputs:
    """The items of a job, iterated lazily (datasets are read one item at a time)."""

    def __init__(self, items: Optional[List[Item]] = None, total: int = 0, factory=None, kind: str = "files"):
        self._items, self.total, self._factory, self.kind = items, total, factory, kind

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items) if self._items is not None else self._factory()

    def __len__(self) -> int:
        return self.total


def item_seed(job_seed: int, key: str) -> int:
    """The seed of item ``key`` in a job with seed ``job_seed`` (same on every backend and re-run)."""
    digest = hashlib.sha256(f"{int(job_seed)}\0{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_array(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(array.tobytes())
    return h.hexdigest()


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _under(path: Path, folder: Optional[Path]) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def _folder_files(folder: Path, exclude: Optional[Path]) -> List[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _under(root_path / d, exclude))
        files.extend(root_path / n for n in names if not n.startswith(".") and _is_image_file(Path(n)))
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _keyed(paths: Sequence[Path], root: Optional[Path] = None, argument: str = "inputs") -> List[Item]:
    paths = [Path(os.path.abspath(p)) for p in paths]
    if root is None:
        parents = [str(p.parent) for p in paths]
        root = Path(os.path.commonpath(parents)) if parents else Path(".")
    items, seen = [], {}
    for index, p in enumerate(paths):
        key = Path(os.path.relpath(p, root)).as_posix()
        if key in seen:
            raise ValueError(f"{argument} names the file '{p}' twice (items {seen[key]} and {index})")
        seen[key] = index
        items.append(Item(index=index, key=key, path=p))
    return items


def _dataset_items(dataset) -> Inputs:
    from ..data.datasets import _as_image_source
    from ..data import load_image

    if isinstance(dataset, np.ndarray):
        if dataset.ndim != 4:
            raise TypeError(f"an array of images must be (N, H, W, 3), got shape {dataset.shape}")
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise TypeError("inputs must be a folder, a glob pattern, a PaddleX file list, a list of image paths or a "
                        f"dataset with __len__ and __getitem__ (e.g. paddle.io.Dataset); got {type(dataset).__name__}")
    total = len(dataset)
    if total == 0:
        raise ValueError("inputs: the dataset is empty")
    width = max(5, len(str(total - 1)))

    def factory():
        for index in range(total):
            def load(index=index):
                return load_image(_as_image_source(dataset[index]))

            yield Item(index=index, key=f"item{index:0{width}d}", load=load)

    return Inputs(total=total, factory=factory, kind="dataset")


def collect_inputs(inputs, exclude=None) -> Inputs:
    """The items of ``inputs`` (see the module docstring); ``exclude`` (the output folder) is skipped
    when searching a folder."""
    exclude = Path(exclude).resolve() if exclude is not None else None
    if isinstance(inputs, (str, os.PathLike)):
        text = os.fspath(inputs)
        path = Path(text)
        if path.is_dir():
            files = _folder_files(path, exclude)
            if not files:
                raise ValueError(f"inputs: the folder '{path}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            items = _keyed(files, Path(os.path.abspath(path)))
            return Inputs(items, len(items))
        if path.is_file():
            if _is_image_file(path):
                items = _keyed([path])
            else:
                items = _keyed([p for _, p in read_file_list(path)], argument=f"the file list '{path}'")
            return Inputs(items, len(items))
        if _has_glob(text):
            files = sorted(Path(p) for p in glob.glob(text, recursive=True)
                           if os.path.isfile(p) and _is_image_file(Path(p)) and not _under(Path(p), exclude))
            if not files:
                raise ValueError(f"inputs: the pattern {text!r} matches no image files")
            items = _keyed(files)
            return Inputs(items, len(items))
        raise FileNotFoundError(f"inputs: '{path}' does not exist (give a folder, a glob pattern, a PaddleX file "
                                f"list, a list of image paths or a dataset)")
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(p, (str, os.PathLike)) for p in inputs):
        items = _keyed([Path(os.fspath(p)) for p in inputs])
        return Inputs(items, len(items))
    if isinstance(inputs, (list, tuple)) and not inputs:
        raise ValueError("inputs: the list is empty")
    return _dataset_items(inputs)
