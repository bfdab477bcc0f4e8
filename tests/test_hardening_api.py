"""Small promises of the hardening issue kept by the task API and the engine."""
import warnings

import numpy as np
import paddle
import pytest

from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import PaddleLayerClassifier


class Deaf(paddle.nn.Layer):
    """Logits that never depend on the input."""

    def forward(self, x):
        return paddle.to_tensor([[2.0, 0.0, -1.0]]).tile([x.shape[0], 1]) + 0.0 * x.mean()


def test_lime_reports_nan_r2_with_a_warning_when_the_model_never_reacts(mosaic):
    deaf = PaddleLayerClassifier(Deaf(), preprocess=ImagePreprocess(None, None))
    with pytest.warns(RuntimeWarning, match="did not change over the perturbed samples.*NaN"):
        exp = interpret.lime(mosaic, deaf, num_samples=30, save_dir=None, random_state=0, progress=False)
    assert np.isnan(exp.score) and np.allclose(exp.weights_of(), 0, atol=1e-12)


def test_cli_leaves_the_process_warning_filters_as_they_were(capsys):
    from paddlex_interpret.cli import main

    before = list(warnings.filters)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert main(["lime", "missing.jpg"]) == 1
    capsys.readouterr()
    assert warnings.filters == before


def test_unwritable_save_dir_is_reported_before_any_model_work(tmp_path, mosaic):
    import os

    if os.geteuid() == 0:
        blocked = tmp_path / "file"
        blocked.write_text("x")
        target = blocked / "sub"  # a folder below a file can never be created, even by root
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)

    class Exploding:
        """A model object that fails the test if anything uses it."""

        def __getattr__(self, name):
            raise AssertionError("the model was touched before save_dir was checked")

    with pytest.raises((PermissionError, NotADirectoryError), match=str(target.name)):
        interpret.smoothgrad(mosaic, Exploding(), save_dir=target)
