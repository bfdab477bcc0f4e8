"""The processes backend (spawn, 2 workers) gives the serial explanations for the same seed, reads its
inputs no further ahead than ``max_in_flight``, and stops its workers on Ctrl-C. Ray: tests/test_batch_ray.py."""
import time

import numpy as np
import pytest

from paddlex_interpret import interpret
from paddlex_interpret.engine import load_explanation

LIME = {"num_samples": 24, "batch_size": 24, "segmentation_params": {"kernel_size": 2, "max_dist": 20, "ratio": 0.5}}


@pytest.fixture(scope="module")
def photos(batch_photo_dir):
    return sorted(p for p in batch_photo_dir.rglob("*.*"))[:4]


@pytest.fixture(scope="module")
def serial_run(batch_model_dir, photos, tmp_path_factory):
    return interpret.explain_folder(photos, str(batch_model_dir), save_dir=tmp_path_factory.mktemp("serial"),
                                    seed=5, progress=False, **LIME)


def explanations(result):
    return {r["key"]: load_explanation(result.save_dir / r["outputs"]["explanation"]["path"])
            for r in result.records if r["status"] == "done"}


def assert_same(a, b):
    assert sorted(a) == sorted(b) and len(a) == 4
    for key in a:
        np.testing.assert_array_equal(a[key].segments, b[key].segments)
        assert a[key].target == b[key].target and a[key].params["random_state"] == b[key].params["random_state"]
        np.testing.assert_allclose(a[key].weights[a[key].target], b[key].weights[b[key].target], rtol=1e-6, atol=1e-9)
        assert abs(a[key].probability - b[key].probability) <= 1e-6


def test_processes_give_the_serial_explanations(serial_run, batch_model_dir, photos, tmp_path):
    result = interpret.explain_folder(photos, str(batch_model_dir), save_dir=tmp_path, seed=5, backend="processes",
                                      workers=2, progress=False, **LIME)
    assert result.done == 4 and result.failed == 0
    assert {r["worker"] for r in result.records} <= {"process-0", "process-1"}
    assert_same(explanations(serial_run), explanations(result))




class CountingDataset:
    """A map-style dataset that counts the items read (the driver reads them; they are sent as arrays)."""

    def __init__(self, arrays):
        self.arrays, self.reads = arrays, 0

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, index):
        self.reads += 1
        return self.arrays[index]


def test_work_is_streamed_and_ctrl_c_stops_the_workers_cleanly(batch_model_dir, photos, tmp_path):
    import multiprocessing

    from PIL import Image

    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in photos]
    dataset = CountingDataset(arrays + [a[:, ::-1].copy() for a in arrays])  # 8 items
    ahead, finished = [], []

    def watch(record):
        finished.append(record["key"])
        ahead.append(dataset.reads - len(finished))
        if len(finished) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interpret.explain_folder(dataset, str(batch_model_dir), save_dir=tmp_path, backend="processes", workers=2,
                                 max_in_flight=2, progress=False, callback=watch, **LIME)
    assert max(ahead) <= 2, ahead  # never more than max_in_flight items read and unfinished
    assert dataset.reads < len(dataset), dataset.reads
    deadline = time.monotonic() + 20  # terminated workers are reaped
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not multiprocessing.active_children()  # the workers are gone
    resumed = interpret.explain_folder(dataset, str(batch_model_dir), save_dir=tmp_path, progress=False, **LIME)
    assert (resumed.skipped, resumed.done, resumed.failed) == (3, 5, 0), resumed.records
