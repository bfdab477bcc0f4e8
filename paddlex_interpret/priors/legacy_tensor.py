"""Read and write Paddle's legacy one-file-per-variable LoDTensor files.

This is the format ``paddle.static.save_vars`` (static graph, ``FLAGS_enable_pir_api=0``)
writes for each variable, and the format of the NormLIME prior parameter files
(``for_kmeans_conv1_1_weights`` ...). All integers are little-endian:

* ``uint32`` LoD-tensor version (0);
* ``uint64`` number of LoD levels, then for each level a ``uint64`` byte size followed by that
  many bytes of ``uint64`` offsets;
* ``uint32`` tensor version (0);
* ``int32`` size of a serialized ``TensorDesc`` protobuf, then those bytes:
  field 1 (varint) = data type (``VarType.Type``: FP32=5, FP64=6, INT64=3, ...),
  field 2 (int64) = dims, repeated (Paddle writes one varint per dim) or packed;
* the raw element data, ``prod(dims) * itemsize`` bytes, nothing after it.

Only numpy is needed; reading runs no code from the file.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "LegacyTensorFormatError",
    "read_lod_tensor",
    "write_lod_tensor",
    "lod_tensor_from_bytes",
    "lod_tensor_to_bytes",
    "PADDLE_DTYPES",
]

#: ``paddle.base.core.VarDesc.VarType`` codes -> numpy dtypes (checked on Paddle 3.3.1).
PADDLE_DTYPES = {
    0: np.dtype(np.bool_),
    1: np.dtype("<i2"),
    2: np.dtype("<i4"),
    3: np.dtype("<i8"),
    4: np.dtype("<f2"),
    5: np.dtype("<f4"),
    6: np.dtype("<f8"),
    20: np.dtype(np.uint8),
    21: np.dtype(np.int8),
    22: "bfloat16",  # stored as uint16 bit patterns; returned as float32
    23: np.dtype("<c8"),
    24: np.dtype("<c16"),
}
_CODES = {v: k for k, v in PADDLE_DTYPES.items() if isinstance(v, np.dtype)}

_MAX_DESC_BYTES = 1 << 16  # a TensorDesc is a type and a few dims; anything huge is corruption
_MAX_LOD_LEVELS = 64
_MAX_DIMS = 64

PathLike = Union[str, Path]


class LegacyTensorFormatError(ValueError):
    """The bytes are not a readable legacy Paddle LoDTensor."""


# --- protobuf varints -------------------------------------------------------------------------

def _read_varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise LegacyTensorFormatError("TensorDesc ends inside a varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise LegacyTensorFormatError("TensorDesc has a varint longer than 10 bytes")


def _write_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 -> two's complement, as protobuf does
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _as_int64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _parse_tensor_desc(desc: bytes) -> Tuple[int, List[int]]:
    data_type: Optional[int] = None
    dims: List[int] = []
    pos = 0
    while pos < len(desc):
        key, pos = _read_varint(desc, pos)
        field, wire = key >> 3, key & 7
        if field == 1 and wire == 0:
            data_type, pos = _read_varint(desc, pos)
        elif field == 2 and wire == 0:
            dim, pos = _read_varint(desc, pos)
            dims.append(_as_int64(dim))
        elif field == 2 and wire == 2:  # packed
            length, pos = _read_varint(desc, pos)
            end = pos + length
            if end > len(desc):
                raise LegacyTensorFormatError("TensorDesc's packed dims run past its end")
            while pos < end:
                dim, pos = _read_varint(desc, pos)
                dims.append(_as_int64(dim))
        elif wire == 0:  # unknown field: skip it
            _, pos = _read_varint(desc, pos)
        elif wire == 2:
            length, pos = _read_varint(desc, pos)
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise LegacyTensorFormatError(f"TensorDesc has an unsupported wire type {wire}")
        if len(dims) > _MAX_DIMS:
            raise LegacyTensorFormatError("TensorDesc has too many dims")
    if pos != len(desc):
        raise LegacyTensorFormatError("TensorDesc's last field runs past its end")
    if data_type is None:
        raise LegacyTensorFormatError("TensorDesc has no data type")
    return data_type, dims


def _tensor_desc(code: int, shape: Sequence[int]) -> bytes:
    out = bytearray(b"\x08" + _write_varint(code))
    for dim in shape:  # field 2, one varint each (what Paddle itself writes)
        out += b"\x10" + _write_varint(int(dim))
    return bytes(out)


# --- reading ----------------------------------------------------------------------------------

def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise LegacyTensorFormatError(f"truncated: expected {n} bytes of {what}, found {len(data)}")
    return data


def _read_one(f: BinaryIO) -> Tuple[np.ndarray, List[List[int]]]:
    (version,) = struct.unpack("<I", _read_exact(f, 4, "the LoD-tensor version"))
    if version != 0:
        raise LegacyTensorFormatError(f"unsupported LoD-tensor version {version} (expected 0)")
    (levels,) = struct.unpack("<Q", _read_exact(f, 8, "the LoD level count"))
    if levels > _MAX_LOD_LEVELS:
        raise LegacyTensorFormatError(f"implausible LoD level count {levels}")
    lod: List[List[int]] = []
    for _ in range(levels):
        (nbytes,) = struct.unpack("<Q", _read_exact(f, 8, "a LoD level size"))
        if nbytes % 8 or nbytes > (1 << 32):
            raise LegacyTensorFormatError(f"implausible LoD level size {nbytes}")
        lod.append(np.frombuffer(_read_exact(f, nbytes, "a LoD level"), dtype="<u8").tolist())
    (tversion,) = struct.unpack("<I", _read_exact(f, 4, "the tensor version"))
    if tversion != 0:
        raise LegacyTensorFormatError(f"unsupported tensor version {tversion} (expected 0)")
    (desc_size,) = struct.unpack("<i", _read_exact(f, 4, "the TensorDesc size"))
    if not 0 < desc_size <= _MAX_DESC_BYTES:
        raise LegacyTensorFormatError(f"implausible TensorDesc size {desc_size}")
    code, dims = _parse_tensor_desc(_read_exact(f, desc_size, "the TensorDesc"))
    if code not in PADDLE_DTYPES:
        raise LegacyTensorFormatError(f"unsupported data type code {code}")
    if any(d < 0 for d in dims):
        raise LegacyTensorFormatError(f"negative dims {dims} in a saved tensor")
    dtype = PADDLE_DTYPES[code]
    raw_dtype = np.dtype("<u2") if dtype == "bfloat16" else dtype
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    data = _read_exact(f, count * raw_dtype.itemsize, "tensor data")
    array = np.frombuffer(data, dtype=raw_dtype).reshape(dims)
    if dtype == "bfloat16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    # native byte order, writable, owning its memory
    return np.array(array, dtype=array.dtype.newbyteorder("=")), lod


def lod_tensor_from_bytes(data: bytes, return_lod: bool = False):
    """Parse one legacy LoDTensor from ``data`` (which must hold exactly one)."""
    f = io.BytesIO(data)
    array, lod = _read_one(f)
    rest = len(data) - f.tell()
    if rest:
        raise LegacyTensorFormatError(f"{rest} unexpected bytes after the tensor data")
    return (array, lod) if return_lod else array


def read_lod_tensor(path: PathLike, return_lod: bool = False):
    """Read a legacy LoDTensor file -> numpy array (and its LoD, a list of offset lists,
    when ``return_lod``). Raises :class:`LegacyTensorFormatError` naming the file when the file
    is truncated, has trailing bytes or is not in this format."""
    path = Path(path)
    try:
        return lod_tensor_from_bytes(path.read_bytes(), return_lod=return_lod)
    except LegacyTensorFormatError as exc:
        raise LegacyTensorFormatError(f"'{path}': {exc}") from None


# --- writing ----------------------------------------------------------------------------------

def lod_tensor_to_bytes(array, lod: Optional[Sequence[Sequence[int]]] = None) -> bytes:
    """Serialize ``array`` (and an optional LoD) the way Paddle's static save does."""
    array = np.asarray(array)
    dtype = array.dtype if array.dtype.itemsize == 1 else array.dtype.newbyteorder("<")
    code = _CODES.get(dtype)
    if code is None:
        raise TypeError(f"dtype {array.dtype} has no legacy Paddle tensor code")
    out = bytearray(struct.pack("<IQ", 0, len(lod or ())))
    for level in lod or ():
        offsets = np.asarray(level, dtype="<u8")
        out += struct.pack("<Q", offsets.nbytes) + offsets.tobytes()
    desc = _tensor_desc(code, array.shape)
    out += struct.pack("<Ii", 0, len(desc)) + desc
    out += np.ascontiguousarray(array, dtype=dtype).tobytes()
    return bytes(out)


def write_lod_tensor(path: PathLike, array, lod: Optional[Sequence[Sequence[int]]] = None) -> Path:
    """Write ``array`` to ``path`` as a legacy LoDTensor file (readable by
    ``paddle.static.load_vars``); returns the path."""
    path = Path(path)
    path.write_bytes(lod_tensor_to_bytes(array, lod))
    return path
