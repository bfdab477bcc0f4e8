"""Read a legacy (pre-1.6, non-zip) ``torch.save`` state dict into numpy arrays without torch.

Layout of such a file: four pickles (magic number, protocol version, system info, the object
whose tensors refer to storages by persistent id), then a pickled list of storage keys, then
for each key an 8-byte little-endian element count followed by the raw storage bytes.
Every record is read with a restricted unpickler: the header records and the key list may hold
only plain data (ints, strings, bools, None, lists, tuples, dicts), and the state-dict record only
the classes a plain state dict needs; anything else is refused, so a file cannot run code while it
is read. Tensor shapes and strides are checked against their storage before any data is viewed.
"""
from __future__ import annotations

import collections
import os
import pickle
import struct
from pathlib import Path
from typing import Dict

import numpy as np

__all__ = ["read_legacy_state_dict", "LegacyTorchFormatError"]

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class LegacyTorchFormatError(ValueError):
    """The file is not a readable legacy torch state dict."""


class _StorageRef:
    __slots__ = ("dtype", "key")

    def __init__(self, dtype, key):
        self.dtype, self.key = dtype, key

    def __setstate__(self, state):
        raise LegacyTorchFormatError("refusing to set the state of a storage reference")


class _TensorRef:
    __slots__ = ("key", "dtype", "offset", "shape", "strides")

    def __init__(self, storage, offset, shape, strides):
        if not isinstance(storage, _StorageRef):
            raise LegacyTorchFormatError(f"a tensor's storage is {storage!r}, expected a persistent storage id")
        if not (isinstance(shape, (tuple, list)) and isinstance(strides, (tuple, list))):
            raise LegacyTorchFormatError(f"a tensor's shape {shape!r} / strides {strides!r} are not tuples")
        self.key, self.dtype, self.offset = storage.key, storage.dtype, offset
        self.shape, self.strides = tuple(shape), tuple(strides)

    def __setstate__(self, state):
        raise LegacyTorchFormatError("refusing to set the state of a tensor")


def _rebuild_tensor_v2(storage, offset, shape, strides, requires_grad=False, hooks=None, *extra):
    return _TensorRef(storage, offset, shape, strides)


class _PlainDataUnpickler(pickle.Unpickler):
    """Refuses every global and persistent id: only data the pickle opcodes build themselves."""

    record = "header"

    def find_class(self, module, name):
        raise LegacyTorchFormatError(
            f"refusing to load {module}.{name} in the {self.record} record: only plain data is allowed there")

    def persistent_load(self, pid):
        raise LegacyTorchFormatError(f"unexpected persistent id {pid!r} in the {self.record} record")


class _StateDictUnpickler(_PlainDataUnpickler):
    record = "state-dict"

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise LegacyTorchFormatError(f"refusing to load {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise LegacyTorchFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], pid[2]
        if not isinstance(storage_type, str) or storage_type not in _STORAGE_DTYPES:
            raise LegacyTorchFormatError(
                f"unknown storage type {storage_type!r}; expected one of {sorted(_STORAGE_DTYPES)}")
        if not isinstance(key, str):
            raise LegacyTorchFormatError(f"storage key {key!r} is not a string")
        return _StorageRef(_STORAGE_DTYPES[storage_type], key)


_PLAIN_TYPES = (int, str, bool, type(None))


def _check_plain(obj, what: str, depth: int = 0):
    """``obj`` unless it holds anything but ints, strings, bools, None, lists, tuples and dicts."""
    if depth > 20:
        raise LegacyTorchFormatError(f"the {what} record is nested too deeply")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, what, depth + 1)
            _check_plain(v, what, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _check_plain(v, what, depth + 1)
    elif not isinstance(obj, _PLAIN_TYPES):
        raise LegacyTorchFormatError(
            f"the {what} record holds a {type(obj).__name__}; only ints, strings, bools, None, "
            "lists, tuples and dicts are allowed")
    return obj


def _load_plain(f, what: str):
    unpickler = _PlainDataUnpickler(f)
    unpickler.record = what
    return _check_plain(unpickler.load(), what)


def _check_extent(name: str, ref: "_TensorRef", count: int) -> None:
    """Refuse a tensor whose offset, shape or strides reach outside its storage of ``count`` items."""
    numbers = (ref.offset, *ref.shape, *ref.strides)
    well_formed = all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
    if not well_formed or len(ref.shape) != len(ref.strides):
        raise LegacyTorchFormatError(f"tensor '{name}' has a malformed shape {ref.shape!r} / strides {ref.strides!r}")
    if ref.offset < 0 or any(n < 0 for n in ref.shape) or any(s < 0 for s in ref.strides):
        raise LegacyTorchFormatError(
            f"tensor '{name}' has a negative offset, size or stride (offset {ref.offset}, shape {ref.shape}, "
            f"strides {ref.strides})")
    if 0 in ref.shape:
        return
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides))
    if last >= count:
        raise LegacyTorchFormatError(
            f"tensor '{name}' (offset {ref.offset}, shape {ref.shape}, strides {ref.strides}) reaches item "
            f"{last} of a storage of {count} items")


def read_legacy_state_dict(path) -> Dict[str, np.ndarray]:
    """Return ``{name: array}`` for a legacy-format torch state dict file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            magic = _load_plain(f, "magic-number")
            if magic != _MAGIC:
                raise LegacyTorchFormatError(f"'{path}' is not a legacy torch file (bad magic number)")
            protocol = _load_plain(f, "protocol-version")
            if not isinstance(protocol, int):
                raise LegacyTorchFormatError(f"'{path}': the protocol version is {protocol!r}, expected an int")
            sys_info = _load_plain(f, "system-info")
            if not isinstance(sys_info, dict):
                raise LegacyTorchFormatError(
                    f"'{path}': the system-info record is a {type(sys_info).__name__}, expected a dict")
            if not sys_info.get("little_endian", True):
                raise LegacyTorchFormatError(f"'{path}' was written on a big-endian machine")
            refs = _StateDictUnpickler(f).load()
            if not isinstance(refs, dict):
                raise LegacyTorchFormatError(f"'{path}' holds a {type(refs).__name__}, not a state dict")
            for name, ref in refs.items():
                if not isinstance(name, str) or not isinstance(ref, _TensorRef):
                    raise LegacyTorchFormatError(
                        f"'{path}': entry {name!r} is a {type(ref).__name__}, expected a tensor")
            keys = _load_plain(f, "storage-keys")
            if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
                raise LegacyTorchFormatError(f"'{path}': the storage keys are not a list of strings")
            storages = {}
            dtypes = {ref.key: ref.dtype for ref in refs.values()}
            for key in keys:
                (count,) = struct.unpack("<q", f.read(8))
                dtype = np.dtype(dtypes.get(key, np.uint8))
                nbytes = count * dtype.itemsize
                if count < 0 or nbytes > size - f.tell():
                    raise LegacyTorchFormatError(f"'{path}' is truncated (storage '{key}' claims {count} items)")
                data = f.read(nbytes)
                if len(data) != nbytes:
                    raise LegacyTorchFormatError(f"'{path}' is truncated")
                storages[key] = np.frombuffer(data, dtype=dtype)
    except LegacyTorchFormatError as exc:
        if str(path) in str(exc):
            raise
        raise LegacyTorchFormatError(f"'{path}': {exc}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, AttributeError, TypeError, ValueError, KeyError,
            IndexError, RecursionError, MemoryError) as exc:
        raise LegacyTorchFormatError(
            f"'{path}' is not a readable legacy torch state dict: {type(exc).__name__}: {exc}") from None
    out = {}
    for name, ref in refs.items():
        if ref.key not in storages:
            raise LegacyTorchFormatError(
                f"'{path}': tensor '{name}' refers to storage {ref.key!r}, which is not in the file")
        flat = storages[ref.key]
        _check_extent(name, ref, len(flat))
        itemsize = flat.dtype.itemsize
        arr = np.lib.stride_tricks.as_strided(
            flat[ref.offset :],
            shape=ref.shape,
            strides=tuple(s * itemsize for s in ref.strides),
            writeable=False,
        )
        out[name] = np.array(arr)  # contiguous copy
    return out
