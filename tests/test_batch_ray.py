"""The Ray backend on a real local Ray cluster (started here, as a user would) gives the serial
explanations for the same seed, and resumes."""
import numpy as np
import pytest

from paddlex_interpret import interpret
from paddlex_interpret.engine import load_explanation

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")

LIME = {"num_samples": 24, "batch_size": 24, "segmentation_params": {"kernel_size": 2, "max_dist": 20, "ratio": 0.5}}


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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


def test_ray_gives_the_serial_explanations_on_the_users_cluster(ray_cluster, serial_run, batch_model_dir, photos,
                                                                tmp_path):
    result = interpret.explain_folder(photos, str(batch_model_dir), save_dir=tmp_path, seed=5, backend="ray",
                                      progress=False, **LIME)
    assert result.done == 4 and result.failed == 0
    assert all(r["worker"].startswith("ray-") for r in result.records)
    assert_same(explanations(serial_run), explanations(result))
    assert ray.is_initialized()  # the user's cluster is left running
    # resumable on Ray too: a corrupt output is redone, the rest kept
    corrupt = tmp_path / result.records[1]["outputs"]["figure"]["path"]
    corrupt.write_bytes(b"\x89PNG broken")
    again = interpret.explain_folder(photos, str(batch_model_dir), save_dir=tmp_path, seed=5, backend="ray",
                                     workers=1, progress=False, **LIME)
    assert (again.done, again.skipped) == (1, 3)
