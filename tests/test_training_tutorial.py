"""The training-data tutorials (English and Chinese) run end to end on real digits and find the flipped labels."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


@pytest.mark.parametrize("script, precision_word", [("training_data.py", "precision"), ("training_data_zh.py", "精确率")])
def test_training_data_tutorial(script, precision_word, tmp_path):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    result = subprocess.run([sys.executable, str(TUTORIALS / script), "--save-dir", str(tmp_path), "--epochs", "4",
                             "--sgd-steps", "20"], env=env, capture_output=True, text=True, encoding="utf-8",
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("training_tidy.csv", "training_tidy_suspects.png", "training_data_map.png", "sgd_noise.png"):
        assert (tmp_path / name).stat().st_size > 0, output
    # the precision of the top-k suspects (k = the true number of flips) is far above the random 0.20
    precision = float(re.search(precision_word + r" ([0-9.]+)", result.stdout).group(1))
    assert precision > 0.8, output
    aurocs = [float(v) for v in re.findall(r"AUROC \w+ +([0-9.]+)", result.stdout)]
    assert len(aurocs) == 5 and min(aurocs) > 0.75, output
