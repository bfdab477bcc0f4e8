"""Paddle's C++ (glog) logs stay off the terminal while models are exported and predictors built,
unless PADDLEX_INTERPRET_VERBOSE=1 asks for them."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from paddlex_interpret.models.inference_runner import VERBOSE_ENV, quiet_paddle_logs

GLOG_LINE = re.compile(r"^(?:\x1b\[[0-9;]*m)*[IWEF]\d{4} \d\d:\d\d:\d\d", re.M)
PASS_LINE = re.compile(r"--- Running (?:PIR |IR )?pass|ir_optim")
ONEDNN_CHECK = re.compile(r"CheckIfOneDNNSupport")
W_LINE = b"W1201 09:11:42.996800 14571 eager_utils.cc:3584] Paddle static graph(PIR) not support input out tensor\n"
PASS = b"\x1b[1m\x1b[35m--- Running PIR pass [conv2d_bn_onednn_fuse_pass]\x1b[0m\n"

# A residual add in the network: paddle.jit.save then logs "W... eager_utils.cc] Paddle static graph(PIR)
# not support input out tensor" (Paddle 3.3, the line the demo printed); building the predictor logs one
# line per PIR pass unless glog info is disabled; the mean makes the first run print
# "ReduceMeanCheckIfOneDNNSupport" on stdout.
SCRIPT = textwrap.dedent("""
    import numpy as np, paddle
    from paddle import nn
    from paddlex_interpret.data import ImagePreprocess
    from paddlex_interpret.engine.lime import LimeImage
    from paddlex_interpret.models import PaddleLayerClassifier

    class Residual(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2D(4, 4, 1), nn.BatchNorm2D(4)

        def forward(self, x):
            return self.bn(self.conv(x)) + x

    paddle.seed(0)
    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.features, self.fc = nn.Sequential(nn.Conv2D(3, 4, 3), Residual()), nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.features(x).mean(axis=[2, 3]))

    net = Net()
    clf = PaddleLayerClassifier(net, preprocess=ImagePreprocess(resize_short=None, crop_size=32), runner="inference")
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    exp = LimeImage(clf, num_samples=10, batch_size=5, progress=False, random_state=0).explain(image)
    assert clf._fast is not None  # Paddle Inference ran
    print("LIME done", exp.target)
""")


def _run(verbose, folder):
    script = folder / "lime_inference.py"  # a file: paddle.jit.save reads the forward's source
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != VERBOSE_ENV and not k.startswith("GLOG_")}
    if verbose:
        env[VERBOSE_ENV] = "1"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LIME done" in proc.stdout
    return proc.stdout + proc.stderr


def test_lime_through_paddle_inference_prints_no_native_logs(tmp_path):
    out = _run(verbose=False, folder=tmp_path)
    assert not GLOG_LINE.search(out), out
    assert not PASS_LINE.search(out) and not ONEDNN_CHECK.search(out), out


def test_verbose_env_shows_paddles_logs(tmp_path):
    """The opt-in works, and it shows that the quiet run above has lines to hide."""
    out = _run(verbose=True, folder=tmp_path)
    assert GLOG_LINE.search(out) and PASS_LINE.search(out) and ONEDNN_CHECK.search(out), out


def test_quiet_block_drops_glog_lines_and_passes_the_rest(capfd, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with quiet_paddle_logs():
        os.write(2, W_LINE)
        os.write(2, PASS)
        os.write(2, b"a line that is not Paddle's log\n")
        os.write(1, b"ReduceMeanCheckIfOneDNNSupport\n")
        print("a print of the user's forward")
    os.write(2, b"after the block\n")
    os.write(1, b"stdout after the block\n")
    out, err = capfd.readouterr()
    assert "a line that is not Paddle's log" in err and "after the block" in err  # fd 2 is back
    assert "eager_utils" not in err and "Running PIR pass" not in err
    assert "a print of the user's forward" in out and "stdout after the block" in out  # fd 1 is back
    assert "CheckIfOneDNNSupport" not in out


def test_quiet_block_passes_everything_on_when_it_fails(capfd, monkeypatch):
    """The logs of a failed export are what explains it: none is dropped."""
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with pytest.raises(RuntimeError, match="export failed"):
        with quiet_paddle_logs():
            os.write(2, W_LINE)
            raise RuntimeError("export failed")
    assert "eager_utils.cc:3584" in capfd.readouterr().err


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_quiet_block_is_a_no_op_when_verbose(capfd, monkeypatch, value):
    monkeypatch.setenv(VERBOSE_ENV, value)
    with quiet_paddle_logs():
        os.write(2, W_LINE)
    assert "eager_utils.cc:3584" in capfd.readouterr().err
