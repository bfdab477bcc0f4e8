"""The command line, through its entry point and as an installed console script."""
import os
import shutil
import subprocess
import sys

import numpy as np
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


# -- the registry-driven commands: explain METHOD, compare, evaluate ------------------------------------
def _explain_parser(method):
    from paddlex_interpret.cli import build_parser

    parser = build_parser()
    explain = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "explain")[1]
    return explain._subparsers._group_actions[0].choices[method]


def test_every_image_method_has_an_explain_command_with_all_its_parameters(capsys):
    import inspect

    from paddlex_interpret import interpret
    from paddlex_interpret.cli import _EXPLAIN_METHODS, _SHARED
    from paddlex_interpret.engine import method_names

    # every method of the registry is offered, image and text
    assert set(_EXPLAIN_METHODS) == set(method_names()) and "lime_text" in _EXPLAIN_METHODS
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in _EXPLAIN_METHODS:
        assert f"  {name} " in out  # one line per method in the top-level help
    for name in _EXPLAIN_METHODS:
        dests = {a.dest for a in _explain_parser(name)._actions}
        for param, p in inspect.signature(getattr(interpret, name)).parameters.items():
            if p.kind == p.VAR_KEYWORD:
                assert "set" in dests, f"{name} takes **{param}: needs --set"
                continue
            expected = _SHARED.get(param, param)
            if expected is not None:
                assert expected in dests, f"explain {name} has no option for {param!r}"


def test_explain_forwards_method_options(capsys, tmp_path, demo_images):
    from paddlex_interpret.engine import load_explanation

    rc = main(["explain", "gradcam", demo_images["chelsea"], "--target-layer", "_blocks.7", "--target", "281",
               "--save-dir", str(tmp_path), "--save-explanation"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "class 281 (tabby)" in out
    saved = load_explanation(tmp_path / "chelsea_gradcam_class281.npz")
    assert saved.params["target_layer"] == "_blocks.7" and saved.target == 281
    default = load_explanation(tmp_path / "chelsea_gradcam_class281.npz")  # same file, reloaded: stable
    assert default.params == saved.params
    rc = main(["explain", "occlusion", demo_images["chelsea"], "--sliding-window-shapes", "3,112,112",
               "--strides", "112", "--perturbations-per-eval", "4", "--no-progress", "--save-dir", str(tmp_path),
               "--save-explanation"])
    assert rc == 0
    occ = load_explanation(tmp_path / "chelsea_occlusion.npz")
    assert occ.params["sliding_window_shapes"] == [3, 112, 112] and occ.params["strides"] == [112, 112]
    assert occ.attribution.shape == (3, 224, 224) and len({round(float(v), 6) for v in occ.attribution[0].ravel()}) > 1
    assert main(["explain", "lrp", demo_images["chelsea"], "--set", "epsilon=0.5", "--save-dir", str(tmp_path),
                 "--save-explanation"]) == 0
    assert load_explanation(tmp_path / "chelsea_lrp.npz").params["epsilon"] == 0.5
    capsys.readouterr()
    # the saved explanation is scored by `evaluate`, with values (not only a file)
    rc = main(["evaluate", str(tmp_path / "chelsea_occlusion.npz"), "--metrics", "deletion,insertion",
               "--save-dir", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("deletion", "insertion"))}
    assert 0.0 <= float(rows["deletion"][1]) <= 1.0 and rows["deletion"][2] == "lower"
    assert (tmp_path / "chelsea_occlusion_occlusion_evaluation.png").is_file()
    assert main(["explain", "gradcam", demo_images["chelsea"], "--target-layer", "nope",
                 "--save-dir", str(tmp_path)]) == 1
    assert "no layer named 'nope'" in capsys.readouterr().err


def test_compare_command(capsys, tmp_path, demo_images):
    rc = main(["compare", demo_images["coffee"], "--methods", "gradcam,lime", "--lime-num-samples", "20",
               "--save-dir", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "gradcam: class 967 (espresso)" in out and "lime: class 967 (espresso)" in out
    assert (tmp_path / "coffee_compare.png").is_file()
    assert main(["compare", demo_images["coffee"], "--methods", "gradcam,nope", "--save-dir", str(tmp_path)]) == 1
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_consensus_command_runs_one_method_over_several_models(capsys, tmp_path, demo_images):
    from paddlex_interpret.engine import load_explanation

    rc = main(["explain", "consensus", demo_images["coffee"], "--model", "demo", "--model", "demo",
               "--method", "gradcam", "--set", "target_layer=_blocks.7", "--save-dir", str(tmp_path),
               "--save-explanation"])
    assert rc == 0
    assert "class 967 (espresso)" in capsys.readouterr().out
    exp = load_explanation(tmp_path / "coffee_consensus_gradcam.npz")
    assert exp.params["num_models"] == 2 and exp.params["inner_method"] == "gradcam"
    assert [p["target_layer"] for p in exp.params["inner_params"]] == ["_blocks.7", "_blocks.7"]
    np.testing.assert_allclose(exp.extras["per_model"][0], exp.extras["per_model"][1])  # the same model twice


def _lime(argv, capsys):
    assert main(["lime", *argv, "--no-progress", "--save-explanation"]) == 0
    return capsys.readouterr().out


def test_lime_flags_change_the_output_as_documented(capsys, tmp_path, demo_images):
    from PIL import Image

    from paddlex_interpret.engine import load_explanation

    photo = demo_images["chelsea"]
    base = ["--num-samples", "30", "--seed", "2"]
    out = _lime([photo, *base, "--save-dir", str(tmp_path / "a")], capsys)
    plain = load_explanation(tmp_path / "a" / "chelsea_lime_s30.npz")
    assert plain.targets == [282] and out.count("class ") == 1  # tiger cat, the top-1
    out = _lime([photo, *base, "--target", "281", "--save-dir", str(tmp_path / "b")], capsys)
    assert "class 281 (tabby)" in out and (tmp_path / "b" / "chelsea_lime_s30_class281.png").is_file()
    out = _lime([photo, *base, "--top-k", "3", "--save-dir", str(tmp_path / "c")], capsys)
    assert out.count("class ") == 3
    assert load_explanation(tmp_path / "c" / "chelsea_lime_s30.npz").targets == [282, 285, 281]
    _lime([photo, *base, "--hide-color", "mean", "--save-dir", str(tmp_path / "d")], capsys)
    mean = load_explanation(tmp_path / "d" / "chelsea_lime_s30.npz")
    assert mean.params["hide_color"] == "mean" and not np.allclose(mean.weights_of(), plain.weights_of())
    _lime([photo, *base, "--show-negative", "--save-dir", str(tmp_path / "e")], capsys)
    with_neg = np.asarray(Image.open(tmp_path / "e" / "chelsea_lime_s30.png"))
    without = np.asarray(Image.open(tmp_path / "a" / "chelsea_lime_s30.png"))
    assert with_neg.shape == without.shape and not np.array_equal(with_neg, without)
    red = (with_neg[..., 0].astype(int) - with_neg[..., 1]) > 100  # negative superpixels are painted red
    assert red.sum() > (((without[..., 0].astype(int) - without[..., 1]) > 100).sum() + 1000)


def test_preprocessing_flags_reach_an_exported_model(capsys, tmp_path):
    """--resize-short/--crop-size/--mean/--std/--scale are the exported model's preprocessing."""
    import paddle
    from PIL import Image

    from conftest import SmallCNN

    net = SmallCNN()
    net.eval()
    prefix = str(tmp_path / "exported" / "model")
    paddle.jit.save(net, prefix, input_spec=[paddle.static.InputSpec([None, 3, 32, 32], "float32")])
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(photo)
    geometry = ["--model", prefix, "--resize-short", "36", "--crop-size", "32"]
    probabilities = []
    for flags in ([], ["--mean", "0.5,0.5,0.5", "--std", "0.1,0.1,0.1"], ["--scale", "1.0"]):
        out = _lime([str(photo), "--num-samples", "10", *geometry, *flags, "--save-dir", str(tmp_path / "o")], capsys)
        probabilities.append(float(out.split("probability ")[1].split(",")[0]))
    assert len(set(probabilities)) == 3, probabilities  # each normalisation gives the network other inputs
    from paddlex_interpret.engine import load_explanation

    assert load_explanation(tmp_path / "o" / "photo_lime_s10.npz").image.shape == (32, 32, 3)  # the crop size
