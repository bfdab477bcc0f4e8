"""Recording training dynamics without owning the training loop.

A :class:`TrainingDynamicsRecorder` keeps, per sample and epoch, what the training-data methods
read: the probability of the given label, the margin (given-label logit minus the largest other
logit), the predicted class and optionally the whole logit vector. Rows go to a folder of
append-only chunk files (``chunk_000000.npz``...), each written atomically; ``meta.json``
(also written atomically) lists the chunks of *completed* epochs. Memory stays bounded: at most
``chunk_rows`` rows are buffered, plus one set of the sample ids seen in the current epoch.

Three ways to feed it, all giving the same records for the same logits:

* a manual loop: ``recorder.update(sample_ids, logits, labels)`` per training batch;
* ``paddle.Model.fit``: :class:`TrainingDynamicsCallback` (sample ids from a recording batch
  sampler, logits from a forward hook on the network during training steps);
* afterwards, from checkpoints: :func:`record_checkpoints` evaluates each checkpoint on the training
  set (checkpoint ``k`` plays the part of epoch ``k``).

Data-parallel training (``paddle.distributed``): each process records its own shard into its own
folder (:func:`rank_folder`; ``TrainingDynamicsCallback(..., distributed=True)`` does it), and
:func:`merge_recordings` joins them afterwards. Processes never write to a shared folder.

Interruptions: an epoch counts once it is completed (the next epoch starts, :meth:`end_epoch`,
:meth:`close`, or leaving a ``with`` block normally). Reopening the folder keeps the completed
epochs and drops the rows of an interrupted one (its chunk files stay on disk, unlisted, so
nothing is rewritten); :attr:`next_epoch` says which epoch to train again.
"""
from __future__ import annotations

import json
import os
import re
from collections import deque
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import numpy as np

from ..._home import atomic_write
from .._validation import check_positive_int

__all__ = ["TrainingDynamicsRecorder", "TrainingDynamics", "TrainingDynamicsCallback", "RecordingBatchSampler",
           "record_checkpoints", "load_dynamics", "rank_folder", "merge_recordings"]

_META = "meta.json"
_FORMAT = "paddlex_interpret.training_dynamics"
_CHUNK = re.compile(r"^chunk_(\d{6})\.npz$")


def _to_numpy(value, name: str) -> np.ndarray:
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.detach().numpy() if hasattr(value, "detach") else value.numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic input
        raise TypeError(f"{name} must be array-like (numpy array, list or paddle.Tensor): {exc}") from None


def _row_stats(logits: np.ndarray, labels: np.ndarray):
    """p(given label), margin (given logit - largest other logit), predicted class, per row."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    p_gold = p[rows, labels]
    given = logits[rows, labels].astype(np.float64)
    other = logits.astype(np.float64).copy()
    other[rows, labels] = -np.inf
    margin = given - other.max(axis=1)
    predicted = logits.argmax(axis=1)
    return p_gold, margin, predicted


class TrainingDynamicsRecorder:
    """Per-sample, per-epoch training dynamics written to ``folder``.

    Parameters
    ----------
    folder : path
        Where the chunk files and ``meta.json`` go (created with its parents). An existing
        recording there is continued (see ``resume``).
    num_classes : int or None, default None
        Number of classes; None takes it from the first batch's logits.
    chunk_rows : int, default 65536
        Rows buffered in memory before a chunk file is written.
    store_logits : bool, default False
        Also store the whole logit vector of every row (``num_classes`` floats per sample and
        epoch); the methods need only the per-row statistics that are always stored.
    resume : bool, default True
        Continue a recording found in ``folder``; False raises ``FileExistsError`` if there is one.

    Notes
    -----
    Epochs: with ``epoch=None`` in :meth:`update` an epoch ends when a sample id comes back
    (every sample is seen once per epoch); give ``epoch=`` explicitly when an epoch may show a
    sample twice or skip samples. Ids are non-negative integers (e.g. dataset indices).
    """

    def __init__(self, folder, num_classes: Optional[int] = None, chunk_rows: int = 65536,
                 store_logits: bool = False, resume: bool = True):
        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"folder must be a folder path (str or os.PathLike), got {type(folder).__name__}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"folder exists and is not a folder: '{self.folder}'")
        self.chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
        if num_classes is not None:
            num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
        self._buffer: List[dict] = []
        self._buffered = 0
        self._pending: List[str] = []          # chunks of the current (uncompleted) epoch
        self._seen: set = set()
        self._epoch: Optional[int] = None      # epoch being recorded
        self._explicit: Optional[bool] = None
        meta_path = self.folder / _META
        if meta_path.is_file():
            if not resume:
                raise FileExistsError(f"'{self.folder}' already holds a recording; pass resume=True to continue it "
                                      "or choose an empty folder")
            meta = _read_meta(self.folder)
            if num_classes is not None and meta["num_classes"] is not None and num_classes != meta["num_classes"]:
                raise ValueError(f"num_classes={num_classes} but the recording in '{self.folder}' has "
                                 f"{meta['num_classes']} classes")
            self.num_classes = meta["num_classes"]
            self.store_logits = bool(meta["store_logits"])
            if store_logits != self.store_logits:
                raise ValueError(f"store_logits={store_logits} but the recording in '{self.folder}' was made with "
                                 f"store_logits={self.store_logits}")
            self._chunks: List[str] = list(meta["chunks"])
            self._completed: List[int] = list(meta["completed_epochs"])
            self._explicit = meta.get("explicit_epochs")
        else:
            self.num_classes = num_classes
            self.store_logits = bool(store_logits)
            self._chunks, self._completed = [], []
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_meta()
        existing = [int(m.group(1)) for p in self.folder.iterdir() if (m := _CHUNK.match(p.name))]
        self._next_chunk = max(existing) + 1 if existing else 0
        self._closed = False

    # -- state ----------------------------------------------------------------------------------
    @property
    def completed_epochs(self) -> List[int]:
        """Epoch numbers recorded completely (kept on reopening)."""
        return list(self._completed)

    @property
    def next_epoch(self) -> int:
        """The epoch a resumed training should run next: one past the last completed epoch (0 if none)."""
        return self._completed[-1] + 1 if self._completed else 0

    @property
    def current_epoch(self) -> Optional[int]:
        """The epoch being recorded now (None before the first update of a session)."""
        return self._epoch

    # -- recording ------------------------------------------------------------------------------
    def update(self, sample_ids, logits, labels, epoch: Optional[int] = None) -> None:
        """Record one batch.

        Parameters
        ----------
        sample_ids : array-like of int, shape (B,)
            Which samples the rows are (non-negative, e.g. dataset indices).
        logits : array-like or paddle.Tensor, shape (B, num_classes)
            The model's class scores on the batch (logits; the softmax is taken here). Detached
            and copied; the tensor is not kept.
        labels : array-like of int, shape (B,)
            The given (possibly wrong) labels.
        epoch : int or None, default None
            The epoch number; None infers it (a sample id seen again starts the next epoch).
            Either always give it or never, within one recording.
        """
        if self._closed:
            raise RuntimeError("the recorder is closed; open the folder again to continue")
        ids = _to_numpy(sample_ids, "sample_ids").reshape(-1)
        z = _to_numpy(logits, "logits")
        y = _to_numpy(labels, "labels").reshape(-1)
        if z.ndim != 2:
            raise ValueError(f"logits must have shape (batch, num_classes), got {z.shape}")
        if not (len(ids) == len(y) == z.shape[0]):
            raise ValueError(f"sample_ids ({len(ids)}), labels ({len(y)}) and logits ({z.shape[0]} rows) must have "
                             "the same length")
        if len(ids) == 0:
            return
        if not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0:
            raise ValueError("sample_ids must be non-negative integers (e.g. dataset indices)")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"labels must be integer class indices, got dtype {y.dtype}")
        if self.num_classes is None:
            if z.shape[1] < 2:
                raise ValueError(f"logits must have at least 2 classes, got {z.shape[1]}")
            self.num_classes = int(z.shape[1])
            self._write_meta()
        if z.shape[1] != self.num_classes:
            raise ValueError(f"logits have {z.shape[1]} classes, the recording has {self.num_classes}")
        if y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}, got {y.min()}..{y.max()}")
        if not np.all(np.isfinite(z)):
            raise ValueError("logits contain NaN or inf (has the training diverged?)")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("sample_ids repeat within one batch; each row must be a different sample")
        self._set_epoch(ids, epoch)
        self._seen.update(ids.tolist())
        p_gold, margin, predicted = _row_stats(z, y.astype(np.int64))
        block = {"sample_id": ids.astype(np.int64), "epoch": np.full(len(ids), self._epoch, np.int64),
                 "label": y.astype(np.int64), "p_gold": p_gold.astype(np.float64), "margin": margin.astype(np.float64),
                 "predicted": predicted.astype(np.int64)}
        if self.store_logits:
            block["logits"] = z.astype(np.float32)
        self._buffer.append(block)
        self._buffered += len(ids)
        if self._buffered >= self.chunk_rows:
            self._flush()

    def _set_epoch(self, ids: np.ndarray, epoch) -> None:
        explicit = epoch is not None
        if self._explicit is not None and explicit != self._explicit:
            raise ValueError("give epoch= in every update of a recording or in none (this recording "
                             f"{'gives' if self._explicit else 'infers'} epochs)")
        if self._explicit is None:
            self._explicit = explicit
            self._write_meta()
        if explicit:
            epoch = check_positive_int(epoch, "epoch", minimum=0)
            if self._completed and epoch <= self._completed[-1]:
                raise ValueError(f"epoch {epoch} is already recorded (completed epochs: {self._completed}); "
                                 f"continue with epoch {self.next_epoch}")
            if self._epoch is None:
                self._epoch = epoch
            elif epoch < self._epoch:
                raise ValueError(f"epoch went back from {self._epoch} to {epoch}")
            elif epoch > self._epoch:
                self.end_epoch()
                self._epoch = epoch
            repeated = self._seen.intersection(ids.tolist())
            if repeated:
                raise ValueError(f"sample ids {sorted(repeated)[:5]} appear twice in epoch {epoch}")
        else:
            if self._epoch is None:
                self._epoch = self.next_epoch
            elif self._seen.intersection(ids.tolist()):
                self.end_epoch()
                self._epoch = self.next_epoch

    def _flush(self) -> None:
        if not self._buffer:
            return
        arrays = {k: np.concatenate([b[k] for b in self._buffer]) for k in self._buffer[0]}
        name = f"chunk_{self._next_chunk:06d}.npz"
        with atomic_write(self.folder / name) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        self._next_chunk += 1
        self._pending.append(name)
        self._buffer, self._buffered = [], 0

    def end_epoch(self) -> None:
        """Write the buffered rows and mark the current epoch completed (done automatically when
        the next epoch starts and on :meth:`close`)."""
        if self._epoch is None or self._epoch in self._completed:
            return
        self._flush()
        self._chunks.extend(self._pending)
        self._completed.append(int(self._epoch))
        self._pending = []
        self._seen = set()
        self._write_meta()

    def close(self) -> None:
        """Complete the current epoch and stop recording."""
        if not self._closed:
            self.end_epoch()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:  # an interrupted epoch: flush what we have, but leave it uncompleted
            self._flush()
            self._closed = True
        return False

    def _write_meta(self) -> None:
        meta = {"format": _FORMAT, "version": 1, "num_classes": self.num_classes, "store_logits": self.store_logits,
                "chunks": self._chunks, "completed_epochs": self._completed, "explicit_epochs": self._explicit}
        with atomic_write(self.folder / _META) as tmp:
            tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")

    # -- reading --------------------------------------------------------------------------------
    def dynamics(self) -> "TrainingDynamics":
        """The completed epochs as a :class:`TrainingDynamics` (the current epoch is not included
        until it is completed)."""
        return load_dynamics(self.folder)


def _read_meta(folder: Path) -> dict:
    path = folder / _META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"'{path}' is not a training-dynamics recording: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"'{path}' is not a training-dynamics recording (format {meta.get('format')!r})")
    return meta


class TrainingDynamics:
    """What was recorded, as ``(num_samples, num_epochs)`` arrays (samples sorted by id).

    Attributes
    ----------
    sample_ids : ndarray (N,) int64
    labels : ndarray (N,) int64
        The given label of every sample.
    epochs : ndarray (E,) int64
        The recorded epoch numbers, in order.
    p_gold : ndarray (N, E) float64
        Softmax probability of the given label; NaN where a sample was not seen in an epoch.
    margin : ndarray (N, E) float64
        Given-label logit minus the largest other logit; NaN where not seen.
    predicted : ndarray (N, E) int64
        Predicted class; -1 where not seen.
    logits : ndarray (N, E, K) float32 or None
        Only for recordings made with ``store_logits=True``.
    num_classes : int
    """

    def __init__(self, sample_ids, labels, epochs, p_gold, margin, predicted, num_classes, logits=None, source=None):
        self.sample_ids = np.asarray(sample_ids, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.epochs = np.asarray(epochs, dtype=np.int64)
        self.p_gold = np.asarray(p_gold, dtype=np.float64)
        self.margin = np.asarray(margin, dtype=np.float64)
        self.predicted = np.asarray(predicted, dtype=np.int64)
        self.num_classes = int(num_classes)
        self.logits = logits
        self.source = source

    @property
    def num_samples(self) -> int:
        return len(self.sample_ids)

    @property
    def num_epochs(self) -> int:
        return len(self.epochs)

    @property
    def seen(self) -> np.ndarray:
        """``(N, E)`` bool: the sample was recorded in the epoch."""
        return self.predicted >= 0

    @property
    def correct(self) -> np.ndarray:
        """``(N, E)`` bool: predicted class == given label (False where not seen)."""
        return self.seen & (self.predicted == self.labels[:, None])

    @property
    def last_predicted(self) -> np.ndarray:
        """``(N,)`` the prediction at each sample's last recorded epoch."""
        out = np.full(self.num_samples, -1, np.int64)
        for e in range(self.num_epochs):
            hit = self.predicted[:, e] >= 0
            out[hit] = self.predicted[hit, e]
        return out

    def select_epochs(self, epochs=None) -> "TrainingDynamics":
        """The same samples over some epochs: None (all), an int ``n`` (the first ``n`` recorded
        epochs, e.g. to stop before the network memorises noisy labels) or a list of epoch numbers."""
        if epochs is None:
            return self
        if isinstance(epochs, (int, np.integer)) and not isinstance(epochs, bool):
            n = check_positive_int(epochs, "epochs")
            if n > self.num_epochs:
                raise ValueError(f"epochs={n} but only {self.num_epochs} epochs are recorded")
            cols = np.arange(n)
        else:
            wanted = [int(e) for e in epochs]
            where = {int(e): j for j, e in enumerate(self.epochs)}
            missing = [e for e in wanted if e not in where]
            if missing or not wanted:
                raise ValueError(f"epochs {missing or wanted} are not recorded; recorded: {self.epochs.tolist()}")
            cols = np.array([where[e] for e in wanted])
        return TrainingDynamics(self.sample_ids, self.labels, self.epochs[cols], self.p_gold[:, cols],
                                self.margin[:, cols], self.predicted[:, cols], self.num_classes,
                                None if self.logits is None else self.logits[:, cols], source=self.source)

    @classmethod
    def from_arrays(cls, p_gold, labels, predicted=None, margin=None, sample_ids=None, num_classes=None):
        """Build dynamics from in-memory ``(N, E)`` arrays (tests, other tools' logs).

        ``predicted`` defaults to the given label where ``p_gold > 0.5`` and to the next class
        (``(label + 1) % num_classes``) otherwise; ``margin`` to NaN."""
        p_gold = np.asarray(p_gold, dtype=np.float64)
        if p_gold.ndim != 2:
            raise ValueError(f"p_gold must have shape (num_samples, num_epochs), got {p_gold.shape}")
        labels = np.asarray(labels, dtype=np.int64)
        k = num_classes if num_classes is not None else max(int(labels.max()) + 1, 2)
        if predicted is None:
            predicted = np.where(p_gold > 0.5, labels[:, None], (labels[:, None] + 1) % k)
        margin = np.full(p_gold.shape, np.nan) if margin is None else margin
        n = p_gold.shape[0]
        ids = np.arange(n) if sample_ids is None else sample_ids
        return cls(ids, labels, np.arange(p_gold.shape[1]), p_gold, margin, predicted, k)


def load_dynamics(source) -> TrainingDynamics:
    """The completed epochs of a recording: a folder, a :class:`TrainingDynamicsRecorder`, a
    :class:`TrainingDynamicsCallback`, or a :class:`TrainingDynamics` (returned as is)."""
    if isinstance(source, TrainingDynamics):
        return source
    if isinstance(source, TrainingDynamicsCallback):
        source = source.recorder
    if isinstance(source, TrainingDynamicsRecorder):
        source = source.folder
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError("expected a recording folder, a TrainingDynamicsRecorder, a TrainingDynamicsCallback or "
                        f"TrainingDynamics; got {type(source).__name__}")
    folder = Path(source)
    if not (folder / _META).is_file():
        raise FileNotFoundError(f"no training-dynamics recording in '{folder}' (no {_META})")
    meta = _read_meta(folder)
    epochs = list(meta["completed_epochs"])
    if not epochs:
        raise ValueError(f"the recording in '{folder}' has no completed epoch yet")
    chunks = [folder / c for c in meta["chunks"]]
    # pass 1: the sample ids (bounded: N ints)
    ids = []
    for c in chunks:
        with np.load(c, allow_pickle=False) as d:
            ids.append(np.unique(d["sample_id"]))
    sample_ids = np.unique(np.concatenate(ids))
    n, e = len(sample_ids), len(epochs)
    epoch_numbers = np.asarray(epochs, dtype=np.int64)
    if np.any(np.diff(epoch_numbers) <= 0):
        raise ValueError(f"'{folder}': completed epochs are not increasing: {epochs}")
    p_gold = np.full((n, e), np.nan)
    margin = np.full((n, e), np.nan)
    predicted = np.full((n, e), -1, np.int64)
    labels = np.full(n, -1, np.int64)
    logits = np.full((n, e, meta["num_classes"]), np.nan, np.float32) if meta["store_logits"] else None
    for c in chunks:
        with np.load(c, allow_pickle=False) as d:
            rows = np.searchsorted(sample_ids, d["sample_id"])
            cols = np.searchsorted(epoch_numbers, d["epoch"])
            p_gold[rows, cols] = d["p_gold"]
            margin[rows, cols] = d["margin"]
            predicted[rows, cols] = d["predicted"]
            lab = d["label"]
            known = labels[rows] >= 0
            if np.any(labels[rows][known] != lab[known]):
                bad = sample_ids[rows][known][labels[rows][known] != lab[known]][:5]
                raise ValueError(f"samples {bad.tolist()} were recorded with different labels in different epochs")
            labels[rows] = lab
            if logits is not None:
                logits[rows, cols] = d["logits"]
    return TrainingDynamics(sample_ids, labels, epochs, p_gold, margin, predicted, meta["num_classes"], logits,
                            source=str(folder))


# -- paddle.Model.fit --------------------------------------------------------------------------------
class RecordingBatchSampler:
    """A batch sampler that remembers which dataset indices it handed out, in order.

    ``DataLoader(dataset, batch_sampler=sampler)`` keeps the order of batches (also with worker
    processes), so the k-th batch the network trains on is the k-th batch this sampler yielded;
    :class:`TrainingDynamicsCallback` pairs them first in, first out.

    Parameters
    ----------
    num_samples : int
        Length of the dataset.
    batch_size : int
    shuffle : bool, default True
    drop_last : bool, default False
    seed : int, default 0
        The shuffling seed (epoch ``e`` uses ``seed + e``).
    num_replicas : int, default 1
        Data-parallel processes (``paddle.distributed`` world size). Every process builds the same
        seeded permutation and takes every ``num_replicas``-th index from position ``rank``, as
        ``paddle.io.DistributedBatchSampler`` does; the permutation is padded with its first
        indices to a multiple of ``num_replicas`` so every process runs the same number of
        steps (a padded sample is seen by two processes in that epoch;
        :func:`merge_recordings` keeps one of its rows).
    rank : int, default 0
        This process's rank, ``0..num_replicas-1``.
    """

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 seed: int = 0, num_replicas: int = 1, rank: int = 0):
        self.num_samples = check_positive_int(num_samples, "num_samples")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle, self.drop_last, self.seed = bool(shuffle), bool(drop_last), int(seed)
        self.num_replicas = check_positive_int(num_replicas, "num_replicas")
        self.rank = check_positive_int(rank, "rank", minimum=0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"rank must be in 0..{self.num_replicas - 1} (num_replicas={self.num_replicas}), "
                             f"got {self.rank}")
        self._epoch = 0
        self.handed_out: deque = deque()

    @property
    def _per_replica(self) -> int:
        return -(-self.num_samples // self.num_replicas)

    def __iter__(self):
        order = np.arange(self.num_samples)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self._epoch).permutation(self.num_samples)
        self._epoch += 1
        if self.num_replicas > 1:
            total = self._per_replica * self.num_replicas
            order = np.concatenate([order, order[:total - self.num_samples]])[self.rank::self.num_replicas]
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                break
            self.handed_out.append(batch.copy())
            yield batch.tolist()

    def __len__(self):
        full, rest = divmod(self._per_replica, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)


def _paddle_callback_base():
    try:
        from paddle.callbacks import Callback
    except ImportError:  # pragma: no cover - paddle always has callbacks
        return object
    return Callback


class TrainingDynamicsCallback(_paddle_callback_base()):
    """Records training dynamics during ``paddle.Model.fit``.

    Sample ids: ``fit`` does not tell callbacks which samples a batch holds, so the training
    loader must use this callback's :attr:`batch_sampler` (a :class:`RecordingBatchSampler`)::

        cb = TrainingDynamicsCallback("dyn/", train_dataset, batch_size=64, labels=train_labels)
        loader = paddle.io.DataLoader(train_dataset, batch_sampler=cb.batch_sampler)
        model.fit(loader, epochs=10, callbacks=[cb])

    Logits: a forward post-hook on ``model.network`` copies the output of every forward made in
    training mode (``Model.train_batch``; evaluation batches run in eval mode and are ignored).
    The hook is added in ``on_train_begin`` and removed in ``on_train_end``; if ``fit`` raises,
    call :meth:`remove_hook` (or use the callback as a context manager). Epochs are given to the
    recorder from ``on_epoch_begin``, so they follow ``fit``'s own count.

    Parameters
    ----------
    folder_or_recorder : path or TrainingDynamicsRecorder
    dataset : sized dataset
        The training dataset (for its length and, without ``labels``, its labels: item ``[-1]``).
    batch_size : int
    labels : array-like of int or None, default None
        Given label of every dataset index; None reads ``dataset[i][-1]`` once per sample.
    shuffle : bool, default True
    seed : int, default 0
        Seed of the sampler's shuffling.
    drop_last : bool, default False
    distributed : bool, default False
        Data-parallel training (``paddle.distributed``, one process per device): every process
        records its own shard into ``rank_folder(folder)`` (``folder/rank_00000``...; rank and
        world size from ``paddle.distributed.get_rank()`` / ``get_world_size()``), and its
        :attr:`batch_sampler` takes that process's share of a common seeded permutation. After
        training, :func:`merge_recordings` joins the rank folders into one recording (on one
        process, once all have finished). With a recorder given, it is used as this rank's.
    **recorder_options
        ``num_classes``, ``chunk_rows``, ``store_logits``, ``resume`` for a new recorder.
    """

    def __init__(self, folder_or_recorder, dataset, batch_size: int, labels=None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False, distributed: bool = False, **recorder_options):
        super().__init__()
        rank, world_size = (_distributed_rank() if distributed else (0, 1))
        if isinstance(folder_or_recorder, TrainingDynamicsRecorder):
            if recorder_options:
                raise TypeError(f"recorder options {sorted(recorder_options)} cannot apply to an existing recorder")
            self.recorder = folder_or_recorder
        else:
            folder = rank_folder(folder_or_recorder, rank) if distributed else folder_or_recorder
            self.recorder = TrainingDynamicsRecorder(folder, **recorder_options)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError("dataset must be a map-style dataset (with __len__ and __getitem__)")
        self.dataset = dataset
        self.batch_sampler = RecordingBatchSampler(len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last,
                                                   seed=seed, num_replicas=world_size, rank=rank)
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(dataset):
                raise ValueError(f"labels has {len(labels)} entries, the dataset {len(dataset)}")
            self._labels = labels.astype(np.int64)
        else:
            self._labels = None
        self._label_cache = {}
        self._handle = None
        self._outputs: deque = deque()
        self._fit_epoch = 0
        self._offset = 0

    def _label_of(self, ids: np.ndarray) -> np.ndarray:
        if self._labels is not None:
            return self._labels[ids]
        out = []
        for i in ids.tolist():
            if i not in self._label_cache:
                self._label_cache[i] = int(np.asarray(self.dataset[i][-1]).reshape(-1)[0])
            out.append(self._label_cache[i])
        return np.asarray(out, dtype=np.int64)

    def _hook(self, layer, inputs, output):
        if layer.training:
            from ...models.base import first_output

            self._outputs.append(_to_numpy(first_output(output), "logits").astype(np.float32, copy=True))

    def remove_hook(self) -> None:
        """Remove the forward hook from the network (idempotent)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove_hook()
        return False

    def on_train_begin(self, logs=None):
        self.remove_hook()
        self._outputs.clear()
        self.batch_sampler.handed_out.clear()
        self._offset = self.recorder.next_epoch  # a resumed recording continues its numbering
        self._handle = self.model.network.register_forward_post_hook(self._hook)

    def on_epoch_begin(self, epoch, logs=None):
        self._fit_epoch = int(epoch)

    def on_train_batch_end(self, step, logs=None):
        if not self._outputs:
            return
        logits = self._outputs.popleft()
        self._outputs.clear()  # one training forward per step; any extra forward is not a batch
        if not self.batch_sampler.handed_out:
            raise RuntimeError("the training loader does not use this callback's batch_sampler: build it as "
                               "paddle.io.DataLoader(dataset, batch_sampler=callback.batch_sampler)")
        ids = self.batch_sampler.handed_out.popleft()
        if len(ids) != logits.shape[0]:
            raise RuntimeError(f"a training batch has {logits.shape[0]} rows but the sampler handed out {len(ids)} "
                               "indices: the loader must use callback.batch_sampler")
        self.recorder.update(ids, logits, self._label_of(ids), epoch=self._fit_epoch + self._offset)

    def on_train_end(self, logs=None):
        self.remove_hook()
        self.recorder.end_epoch()

    def on_epoch_end(self, epoch, logs=None):
        self.recorder.end_epoch()


# -- data-parallel training ------------------------------------------------------------------------
def _distributed_rank():
    import paddle.distributed as dist

    return int(dist.get_rank()), int(dist.get_world_size())


def rank_folder(folder, rank: Optional[int] = None) -> Path:
    """The recording folder of one data-parallel process: ``folder/rank_<rank:05d>``.

    Parameters
    ----------
    folder : path
        The common recording folder.
    rank : int or None, default None
        None = ``paddle.distributed.get_rank()``.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a folder path (str or os.PathLike), got {type(folder).__name__}")
    rank = _distributed_rank()[0] if rank is None else check_positive_int(rank, "rank", minimum=0)
    return Path(folder) / f"rank_{rank:05d}"


def merge_recordings(sources, folder) -> "TrainingDynamicsRecorder":
    """Join the recordings of data-parallel processes (each saw its own shard) into one.

    Parameters
    ----------
    sources : path or sequence of paths
        The per-rank recording folders, or the common folder holding ``rank_*`` folders
        (:func:`rank_folder`). Listed order decides which row is kept when a sample was seen by
        two processes in one epoch (the sampler's padding): the first.
    folder : path
        A new folder for the merged recording (must not hold a recording yet).

    Returns
    -------
    TrainingDynamicsRecorder
        The merged recording, closed; read it with ``.dynamics()`` or pass ``folder`` to any
        method.

    Notes
    -----
    Only epochs completed by every process are merged (a rank interrupted earlier limits the
    result; the others' later epochs are left out). Rows are copied chunk by chunk, each new chunk
    written atomically and ``meta.json`` last, so memory stays at one chunk plus one set of
    sample ids per epoch.
    """
    if isinstance(sources, (str, os.PathLike)):
        base = Path(sources)
        sources = sorted(p for p in base.glob("rank_*") if (p / _META).is_file()) if base.is_dir() else []
        if not sources:
            raise FileNotFoundError(f"no rank_* recordings in '{base}'")
    sources = [Path(s) for s in sources]
    if not sources:
        raise ValueError("sources is empty; give the per-rank recording folders")
    metas = []
    for src in sources:
        if not (src / _META).is_file():
            raise FileNotFoundError(f"no training-dynamics recording in '{src}' (no {_META})")
        metas.append(_read_meta(src))
    classes = {m["num_classes"] for m in metas}
    logits = {bool(m["store_logits"]) for m in metas}
    if len(classes) != 1 or len(logits) != 1:
        raise ValueError(f"the recordings differ in num_classes {sorted(map(str, classes))} or store_logits "
                         f"{sorted(logits)}; they are not ranks of one training")
    target_folder = Path(folder).resolve()
    if any(target_folder == src.resolve() or target_folder in src.resolve().parents for src in sources):
        raise ValueError(f"folder '{folder}' is (or holds) one of the sources; merge into a new folder")
    epochs = sorted(set.intersection(*(set(m["completed_epochs"]) for m in metas)))
    if not epochs:
        raise ValueError("no epoch is completed in every recording")
    out = TrainingDynamicsRecorder(folder, num_classes=metas[0]["num_classes"], store_logits=metas[0]["store_logits"],
                                   resume=False)
    chunks = []
    for epoch in epochs:
        seen = np.zeros(0, np.int64)
        for src, meta in zip(sources, metas):
            for name in meta["chunks"]:
                with np.load(src / name, allow_pickle=False) as d:
                    arrays = {k: d[k] for k in d.files}
                keep = arrays["epoch"] == epoch
                ids = arrays["sample_id"][keep]
                _, first = np.unique(ids, return_index=True)
                fresh = np.zeros(len(ids), bool)
                fresh[first] = True
                fresh &= ~np.isin(ids, seen)
                if not fresh.any():
                    continue
                rows = {k: v[keep][fresh] for k, v in arrays.items()}
                seen = np.union1d(seen, rows["sample_id"])
                target = f"chunk_{out._next_chunk:06d}.npz"
                with atomic_write(out.folder / target) as tmp:
                    with open(tmp, "wb") as f:
                        np.savez(f, **rows)
                out._next_chunk += 1
                chunks.append(target)
    out._chunks, out._completed = chunks, [int(e) for e in epochs]
    out._explicit = True
    out._write_meta()
    out._closed = True
    return out


# -- checkpoint mode ---------------------------------------------------------------------------------
def record_checkpoints(recorder, network, checkpoints: Sequence, data: Iterable, *, progress: bool = True):
    """Evaluate per-epoch checkpoints on the training set; checkpoint ``k`` is recorded as epoch ``k``.

    The network is evaluated in eval mode under ``paddle.no_grad``; its weights and train/eval
    flags are restored afterwards.

    Parameters
    ----------
    recorder : TrainingDynamicsRecorder or path
        Where to record (a new folder, or a recording whose completed epochs precede these).
    network : paddle.nn.Layer
        The architecture the checkpoints belong to.
    checkpoints : sequence of path or dict
        ``.pdparams`` files (``paddle.load``) or state dicts, in epoch order.
    data : iterable of (sample_ids, inputs, labels)
        Batches of the training set; iterated once per checkpoint (a list, or a re-iterable
        loader). ``inputs`` is a numpy array or tensor.
    progress : bool, default True
        A tqdm bar over checkpoints.

    Returns
    -------
    TrainingDynamicsRecorder
        Closed; read it with ``.dynamics()``.
    """
    import paddle

    from ...models.base import eval_mode, first_output

    if not isinstance(recorder, TrainingDynamicsRecorder):
        recorder = TrainingDynamicsRecorder(recorder)
    if not isinstance(network, paddle.nn.Layer):
        raise TypeError(f"network must be a paddle.nn.Layer, got {type(network).__name__}")
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValueError("checkpoints is empty; give the per-epoch .pdparams files or state dicts")
    saved = {k: v.numpy().copy() for k, v in network.state_dict().items()}
    start = recorder.next_epoch
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(checkpoints), desc="checkpoints")
    try:
        with eval_mode(network), paddle.no_grad():
            for k, ckpt in enumerate(checkpoints):
                state = paddle.load(os.fspath(ckpt)) if isinstance(ckpt, (str, os.PathLike)) else ckpt
                if not isinstance(state, dict):
                    raise TypeError(f"checkpoints[{k}] is neither a .pdparams path nor a state dict")
                missing, unexpected = network.set_state_dict(state) or ([], [])
                if missing:
                    raise ValueError(f"checkpoints[{k}] lacks parameters {list(missing)[:5]} of the network")
                rows = 0
                for batch in data:
                    ids, x, y = batch
                    logits = first_output(network(paddle.to_tensor(x) if not isinstance(x, paddle.Tensor) else x))
                    ids = _to_numpy(ids, "sample_ids")
                    recorder.update(ids, logits, _to_numpy(y, "labels"), epoch=start + k)
                    rows += len(ids.reshape(-1))
                if k == 0:
                    first_rows = rows
                if rows == 0 or rows != first_rows:
                    raise ValueError(f"data gave {rows} samples for checkpoints[{k}] and {first_rows} for "
                                     "checkpoints[0]: it must be re-iterable (a list or a DataLoader, not a "
                                     "generator) and give the same training samples every time")
                if bar is not None:
                    bar.update(1)
        recorder.close()
    finally:
        network.set_state_dict({k: paddle.to_tensor(v) for k, v in saved.items()})
        if bar is not None:
            bar.close()
    return recorder
