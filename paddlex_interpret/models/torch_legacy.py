"""Read a legacy (pre-1.6, non-zip) ``torch.save`` state dict into numpy arrays without torch.

Layout of such a file: four pickles (magic number, protocol version, system info, the object
whose tensors refer to storages by persistent id), then a pickled list of storage keys, then
for each key an 8-byte little-endian element count followed by the raw storage bytes.
Only the classes a plain state dict needs are resolved; anything else is refused, so a file
cannot run code while it is read.
"""
from __future__ import annotations

import collections
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


class _TensorRef:
    __slots__ = ("key", "dtype", "offset", "shape", "strides")

    def __init__(self, storage, offset, shape, strides):
        _, dtype, key = storage
        self.key, self.dtype, self.offset = key, dtype, int(offset)
        self.shape, self.strides = tuple(shape), tuple(strides)


def _rebuild_tensor_v2(storage, offset, shape, strides, requires_grad=False, hooks=None, *extra):
    return _TensorRef(storage, offset, shape, strides)


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise LegacyTorchFormatError(f"refusing to load {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise LegacyTorchFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], pid[2]
        return ("storage", _STORAGE_DTYPES[storage_type], key)


def read_legacy_state_dict(path) -> Dict[str, np.ndarray]:
    """Return ``{name: array}`` for a legacy-format torch state dict file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = pickle.load(f)
            if magic != _MAGIC:
                raise LegacyTorchFormatError(f"'{path}' is not a legacy torch file (bad magic number)")
            pickle.load(f)  # protocol version
            sys_info = pickle.load(f)
            if not sys_info.get("little_endian", True):
                raise LegacyTorchFormatError(f"'{path}' was written on a big-endian machine")
            refs = _StateDictUnpickler(f).load()
            keys = pickle.load(f)
            storages = {}
            dtypes = {ref.key: ref.dtype for ref in refs.values()}
            for key in keys:
                (count,) = struct.unpack("<q", f.read(8))
                dtype = np.dtype(dtypes.get(key, np.uint8))
                data = f.read(count * dtype.itemsize)
                if len(data) != count * dtype.itemsize:
                    raise LegacyTorchFormatError(f"'{path}' is truncated")
                storages[key] = np.frombuffer(data, dtype=dtype)
    except (pickle.UnpicklingError, EOFError, struct.error, AttributeError) as exc:
        raise LegacyTorchFormatError(f"'{path}' is not a readable legacy torch state dict: {exc}") from exc
    out = {}
    for name, ref in refs.items():
        flat = storages[ref.key]
        itemsize = flat.dtype.itemsize
        arr = np.lib.stride_tricks.as_strided(
            flat[ref.offset :],
            shape=ref.shape,
            strides=tuple(s * itemsize for s in ref.strides),
            writeable=False,
        )
        out[name] = np.array(arr)  # contiguous copy
    return out
