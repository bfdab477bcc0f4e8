"""Progress and cancellation seen from the model's side: count the samples the model really scores.

Every explanation method does its work through the classifier interface of :mod:`models.base`
(``predict_proba`` for black-box batches, ``forward`` for gradients, ``scores_for_inputs`` for
batches already in the network's input space). :func:`observed` returns a view of a classifier
that counts the samples of each of those calls into a :class:`Meter` and raises
:class:`JobCancelled` at the next call once the meter is cancelled. Nothing global is changed
and the engine is not touched: the view is an instance of a per-job subclass of the
classifier's own class that shares the classifier's attributes (``__dict__``), so every type
check and attribute of the adapter is as before, and only the three calls are wrapped.
"""
from __future__ import annotations

import threading
from typing import Optional

__all__ = ["Meter", "JobCancelled", "observed"]

#: the calls through which a method makes the model work
_WORK_CALLS = ("predict_proba", "forward", "scores_for_inputs")


class JobCancelled(Exception):
    """Raised inside a job's model calls after :meth:`Meter.cancel`."""


class Meter:
    """Samples scored so far, an expected total (None when the method's work is not known in
    advance) and a cancel flag. Read from any thread; written by the job's thread."""

    def __init__(self, total: Optional[int] = None):
        self.done = 0
        self.total = total
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled("cancelled")

    def add(self, n: int) -> None:
        self.done += int(n)

    def fraction(self) -> Optional[float]:
        """``done / total`` clipped to [0, 1]; None without a total."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


def _batch_length(data) -> int:
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    try:
        return len(data)
    except TypeError:
        return 1


def observed(classifier, meter: Meter):
    """A view of ``classifier`` (image or text) whose work calls are counted into ``meter``.

    Only calls the classifier's class defines itself are wrapped (a base ``forward`` that raises
    stays the base one, so ``gradients_unavailable()`` and ``input_space_ok()`` answer as for the
    classifier). Nested calls (``scores_for_inputs`` calling ``forward``) count once.
    """
    from ..models.base import Classifier

    base = type(classifier)
    depth = threading.local()

    def wrap(name):
        original = getattr(base, name)

        def call(self, data, *args, **kwargs):
            meter.check()
            level = getattr(depth, "level", 0)
            depth.level = level + 1
            try:
                result = original(self, data, *args, **kwargs)
            finally:
                depth.level = level
            if level == 0:
                meter.add(_batch_length(data))
            return result

        call.__name__ = name
        call.__doc__ = original.__doc__
        return call

    members = {}
    for name in _WORK_CALLS:
        original = getattr(base, name, None)
        if original is None or not callable(original):
            continue
        if isinstance(classifier, Classifier) and name != "predict_proba" and original is getattr(Classifier, name):
            continue  # keep the interface's defaults recognisable
        members[name] = wrap(name)
    members["__module__"] = base.__module__
    view_type = type(base)(base.__name__, (base,), members)
    view = object.__new__(view_type)
    view.__dict__ = classifier.__dict__  # the same attributes, not a copy
    return view
