"""Load the cluster centres of NormLIME's ``kmeans_model.pkl`` without running code from it.

The file is a pickled scikit-learn ``KMeans`` from the 0.2x era (PaddleX pickled it with plain
``pickle.dump``). Unpickling it with ``pickle.load`` has two problems: a pickle can call any
importable function (so an untrusted or tampered cache file could run code), and the estimator's
class path and internal state change between scikit-learn releases
(``sklearn.cluster.k_means_.KMeans`` in 0.2x, ``sklearn.cluster._kmeans.KMeans`` today).

Only ``cluster_centers_`` is needed, so the file is read with a restricted unpickler:

* the few callables that rebuild numpy arrays and scalars (``numpy.core.multiarray._reconstruct``
  / ``scalar``, ``numpy.ndarray``, ``numpy.dtype``, ``_frombuffer``; both the ``numpy.core`` and
  the NumPy 2 ``numpy._core`` spellings), plain containers, ``copyreg._reconstructor`` and
  ``_codecs.encode`` (latin-1 only, how protocol 2 stores bytes) are resolved to numpy / to small
  local re-implementations that only build data. Every dtype an array or scalar is built with is
  first rebuilt by numpy from its description (a pickled dtype's state can otherwise declare object
  fields to be plain bytes, turning raw bytes into pointers), and no object array is built from
  raw bytes;
* every other global the pickle names (the KMeans class, a ``RandomState``, anything from any
  module) becomes an inert stand-in class that merely records the arguments and the state it is
  given. No scikit-learn code is imported or called, so any scikit-learn version's pickle works
  and no pickle can run code while it is read.

The centres are then taken from the stand-in's state dict. scikit-learn is not needed at all.
"""
from __future__ import annotations

import builtins
import collections
import io
import pickle
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np

__all__ = ["load_cluster_centres", "cluster_centres_from_bytes", "assign_clusters", "KMeansFileError"]

try:  # NumPy 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


class KMeansFileError(ValueError):
    """The file does not hold a readable k-means model with ``cluster_centers_``."""


class _StandIn:
    """Inert replacement for any class or function a pickle names."""

    _pxi_global: Tuple[str, str] = ("?", "?")

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj._pxi_args = args
        obj._pxi_state = None
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self._pxi_state = state

    def __repr__(self):
        module, name = self._pxi_global
        return f"<stand-in for {module}.{name}>"


def _fresh_dtype(dtype) -> np.dtype:
    """``dtype`` rebuilt by numpy's own constructor from its description, so its flags, offsets and
    item size are consistent (``dtype.__setstate__`` accepts forged ones)."""
    dt = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        fresh = np.dtype((_fresh_dtype(base), shape))
    elif dt.names is not None:
        fresh = np.dtype({"names": list(dt.names), "formats": [_fresh_dtype(dt.fields[n][0]) for n in dt.names],
                          "offsets": [dt.fields[n][1] for n in dt.names], "itemsize": dt.itemsize})
    else:
        fresh = np.dtype(dt.str)
    if fresh.itemsize != dt.itemsize:
        raise KMeansFileError(f"refusing an inconsistent numpy dtype {dt!r} (item size {dt.itemsize}, "
                              f"{fresh.itemsize} for {fresh!r})")
    return fresh


class _Array(np.ndarray):
    """What the pickle gets for ``numpy.ndarray``: builds arrays with fresh dtypes only."""

    def __new__(cls, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
        dtype = _fresh_dtype(dtype)
        if dtype.hasobject:
            raise KMeansFileError("refusing numpy.ndarray(...) with an object dtype")
        return np.ndarray.__new__(cls, shape, dtype, buffer, offset, strides, order)

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise KMeansFileError("refusing a numpy array state that is not a 4- or 5-tuple")
        state = list(state)
        state[-3] = _fresh_dtype(state[-3])
        np.ndarray.__setstate__(self, tuple(state))


def _safe_reconstruct(subtype, shape, dtype):
    if subtype is not _Array:
        raise KMeansFileError(f"refusing numpy _reconstruct of {subtype!r}")
    return _multiarray._reconstruct(_Array, shape, _fresh_dtype(dtype))


def _safe_frombuffer(buf, dtype, shape, order, *axis_order):
    return _numeric._frombuffer(buf, _fresh_dtype(dtype), shape, order, *axis_order).view(_Array)


def _safe_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype):
        raise KMeansFileError(f"refusing a numpy scalar of dtype {dtype!r}")
    dtype = _fresh_dtype(dtype)
    if dtype.hasobject:
        raise KMeansFileError("refusing a numpy object scalar")
    return _multiarray.scalar(dtype, data) if data is not None else _multiarray.scalar(dtype)


def _safe_encode(text, encoding="utf-8", errors="strict"):
    if encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise KMeansFileError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode(encoding, errors)


def _safe_reconstructor(cls, base, state):
    if base is not object:
        raise KMeansFileError(f"refusing copyreg._reconstructor with base {base!r}")
    if not (isinstance(cls, type) and issubclass(cls, _StandIn)):
        raise KMeansFileError(f"refusing copyreg._reconstructor of {cls!r}")
    return cls.__new__(cls)


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC_MODULES = ("numpy.core.numeric", "numpy._core.numeric")
_ALLOWED: Dict[Tuple[str, str], Any] = {
    ("numpy", "ndarray"): _Array,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _safe_encode,
    ("copyreg", "_reconstructor"): _safe_reconstructor,
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("builtins", n): getattr(builtins, n) for n in ("set", "frozenset", "list", "dict", "tuple", "int", "float", "complex", "bool",
                                                   "str", "bytes", "bytearray", "slice")},
}
for _m in _NUMPY_MODULES:
    _ALLOWED[(_m, "_reconstruct")] = _safe_reconstruct
    _ALLOWED[(_m, "scalar")] = _safe_scalar
for _m in _NUMERIC_MODULES:
    _ALLOWED[(_m, "_frombuffer")] = _safe_frombuffer


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file):
        # latin1: NumPy's advice for array data pickled by Python 2; harmless for Python 3 pickles.
        super().__init__(file, encoding="latin1")
        self.stand_ins: Dict[Tuple[str, str], type] = {}

    def find_class(self, module, name):
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if key not in self.stand_ins:
            self.stand_ins[key] = type(name, (_StandIn,), {"_pxi_global": key, "__module__": "stand-in"})
        return self.stand_ins[key]

    def persistent_load(self, pid):
        raise KMeansFileError("the pickle refers to external objects (persistent ids); not a plain pickle")


def _find_centres(obj) -> Any:
    if isinstance(obj, _StandIn):
        state = obj._pxi_state
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slots state)
            merged = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        if isinstance(state, dict) and "cluster_centers_" in state:
            return state["cluster_centers_"]
        raise KMeansFileError(f"the pickled {obj!r} has no 'cluster_centers_' (not a fitted KMeans)")
    if isinstance(obj, dict) and "cluster_centers_" in obj:
        return obj["cluster_centers_"]
    if isinstance(obj, np.ndarray):
        return obj
    raise KMeansFileError(f"the pickle holds a {type(obj).__name__}, not a k-means model")


def cluster_centres_from_bytes(data: bytes) -> np.ndarray:
    """``cluster_centers_`` (float64, shape ``(n_clusters, n_features)``) of a pickled KMeans."""
    unpickler = _RestrictedUnpickler(io.BytesIO(data))
    try:
        obj = unpickler.load()
    except KMeansFileError:
        raise
    except Exception as exc:  # truncated, garbage, or a pickle our stand-ins cannot satisfy
        raise KMeansFileError(f"not a readable pickle: {type(exc).__name__}: {exc}") from None
    centres = _find_centres(obj)
    if isinstance(centres, _StandIn):
        hint = ""
        if centres._pxi_global[0].startswith("joblib"):
            hint = " (files written by joblib.dump are not supported; re-save the model with pickle.dump)"
        raise KMeansFileError(f"cluster_centers_ is stored as {centres!r}, not a plain numpy array{hint}")
    if not isinstance(centres, np.ndarray) or centres.dtype.kind not in "fiu":
        raise KMeansFileError(f"cluster_centers_ is not a numeric array ({type(centres).__name__})")
    if centres.ndim != 2 or centres.shape[0] < 1 or centres.shape[1] < 1:
        raise KMeansFileError(f"cluster_centers_ has shape {centres.shape}, expected (n_clusters, n_features)")
    centres = np.array(centres, dtype=np.float64)
    if not np.isfinite(centres).all():
        raise KMeansFileError("cluster_centers_ contains NaN or infinity")
    return centres


def load_cluster_centres(path) -> np.ndarray:
    """Read ``kmeans_model.pkl`` -> its ``cluster_centers_`` as a float64 array.

    Safe on untrusted files (nothing the pickle names is imported or called) and independent of
    the scikit-learn version that wrote it. Raises :class:`KMeansFileError` naming the file."""
    path = Path(path)
    try:
        return cluster_centres_from_bytes(path.read_bytes())
    except KMeansFileError as exc:
        raise KMeansFileError(f"'{path}': {exc}") from None


def assign_clusters(features, centres) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each row of ``features`` -> int64 array."""
    x = np.asarray(features, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"features {x.shape} and centres {c.shape} must be 2-D with equal widths")
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]
    return np.argmin(d2, axis=1).astype(np.int64)
