"""The command line, through its entry point and as an installed console script."""
import os
import shutil
import subprocess
import sys

import pytest

from paddlex_interpret.cli import main


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "lime" in out and "EfficientNet-Lite0" in out
    with pytest.raises(SystemExit):
        main(["lime", "--help"])
    out = capsys.readouterr().out
    for option in ("--save-dir", "--num-samples", "--batch-size", "--seed", "--top-k", "--show-negative"):
        assert option in out


def test_bad_arguments_exit_with_a_clear_message(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["lime", "x.jpg", "--num-samples", "1"])
    assert exit_info.value.code == 2
    assert "must be >= 2" in capsys.readouterr().err
    assert main(["lime", str(tmp_path / "missing.jpg"), "--save-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "image file not found" in err and "missing.jpg" in err and "Traceback" not in err


def test_lime_and_demo_commands(capsys, tmp_path, demo_images):
    rc = main(["lime", demo_images["coffee"], "--save-dir", str(tmp_path), "--num-samples", "30",
               "--batch-size", "15", "--seed", "1", "--no-progress", "--save-explanation"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "class 967 (espresso)" in out
    assert (tmp_path / "coffee_lime_s30.png").is_file() and (tmp_path / "coffee_lime_s30.npz").is_file()
    rc = main(["demo", "--save-dir", str(tmp_path / "demo"), "--num-samples", "20", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "chelsea.png: top-5 classes" in out and "1. espresso (class 967)" in out
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["chelsea_lime_s20.png", "coffee_lime_s20.png"]


def test_console_script_is_installed():
    assert shutil.which("paddlex-interpret"), "install the package (pip install -e .) to get the console script"
    result = subprocess.run(["paddlex-interpret", "--version"], capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0 and "paddlex-interpret 0.1.0" in result.stdout
    result = subprocess.run([sys.executable, "-m", "paddlex_interpret", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "COMMAND" in result.stdout
