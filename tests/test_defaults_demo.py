"""Every per-pixel method at its defaults on the real demo model and a real photo: a map with
something in it (not constant, finite, the image's geometry) and no warning. Only ``batch_size``
is raised where it helps (it changes memory and speed, not results); Score-CAM at its default
layer is covered in test_cam_defaults.py."""
import time
import warnings

import numpy as np
import pytest

from paddlex_interpret import interpret
from paddlex_interpret.engine import method_names

SPEED = {"occlusion": {"batch_size": 50, "progress": False}, "lime": {"progress": False, "random_state": 0}}
SEEDED = {"smoothgrad", "intgrad", "gradshap"}
METHODS = [m for m in method_names(explains="image", composable=True) if m != "scorecam"]


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_method_at_its_defaults_on_the_demo_model(method, demo_model, demo_images, tmp_path):
    params = dict(SPEED.get(method, {}))
    if method in SEEDED:
        params["random_state"] = 0
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # e.g. a constant map must not pass silently
        exp = getattr(interpret, method)(demo_images["chelsea"], demo_model, save_dir=tmp_path, **params)
    elapsed = time.perf_counter() - start
    m = exp.pixel_map()
    assert m.shape == (224, 224) and np.isfinite(m).all()
    assert np.ptp(m) > 0 and np.unique(np.round(m / np.abs(m).max(), 4)).size > 10, method
    assert exp.label_name == "tiger cat" and exp.figure_path
    print(f"{method}: {elapsed:.1f} s")
