"""``interpret.evaluate``: metrics by name, a printable table, the curve figure, clear errors."""
import dataclasses

import numpy as np
import pytest
from PIL import Image

from conftest import grid_segments
from paddlex_interpret import evaluate as evaluate_pkg
from paddlex_interpret import interpret
from paddlex_interpret.engine import LimeImage


@pytest.fixture
def lime_explanation(region_classifier, mosaic):
    return LimeImage(region_classifier, num_samples=100, random_state=0, progress=False,
                     segmentation=grid_segments).explain(mosaic, targets=1)


def test_available_lists_every_metric_with_its_scope():
    listed = {m["name"]: m for m in evaluate_pkg.available()}
    for name in ("deletion", "insertion", "morf", "lerf", "infidelity", "point_game",
                 "point_game_segmentation", "model_randomization", "data_randomization"):
        assert name in listed
    assert listed["deletion"]["higher_is_better"] is False and listed["insertion"]["higher_is_better"] is True
    assert listed["point_game"]["needs"] == ("bbox",) and listed["point_game"]["needs_model"] is False
    assert evaluate_pkg.Deletion is evaluate_pkg.get_metric("deletion")


def test_evaluate_report_table_and_figure(lime_explanation, region_classifier, tmp_path):
    report = interpret.evaluate(lime_explanation, region_classifier,
                                metrics=["deletion", "insertion", "deletion_insertion", "point_game"],
                                bbox=(32, 16, 48, 32), save_dir=tmp_path, name="mosaic", batch_size=7)
    assert set(report) == {"deletion", "insertion", "deletion_insertion", "point_game"}
    # LIME found the one region the model looks at: removing it first beats removing it last
    reversed_exp = dataclasses.replace(lime_explanation, weights={1: -lime_explanation.weights[1]})
    worse = interpret.evaluate(reversed_exp, region_classifier, metrics=["deletion", "insertion"])
    assert report["deletion"].score < worse["deletion"].score - 0.2
    assert report["insertion"].score > worse["insertion"].score + 0.2
    assert report["deletion_insertion"].score == pytest.approx(
        report["insertion"].score - report["deletion"].score, abs=1e-9)
    assert report["point_game"].details["precision"] == 1.0
    table = str(report)
    assert table.splitlines()[0].split() == ["metric", "score", "better"] and "deletion" in table
    assert report.figure_path == str(tmp_path / "mosaic_lime_evaluation.png")
    with Image.open(report.figure_path) as img:
        assert img.format == "PNG"
    again = interpret.evaluate(lime_explanation, region_classifier, metrics=["deletion"], batch_size=50)
    assert again["deletion"].score == pytest.approx(report["deletion"].score, abs=1e-12)
    assert again.figure_path is None


def test_evaluate_errors_name_what_is_missing(lime_explanation, region_classifier):
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        interpret.evaluate(lime_explanation, region_classifier, metrics=["accuracy"])
    with pytest.raises(ValueError, match="needs the model"):
        interpret.evaluate(lime_explanation, None, metrics=["deletion"])
    with pytest.raises(ValueError, match=r"needs \['bbox'\]"):
        interpret.evaluate(lime_explanation, region_classifier, metrics=["point_game"])
    with pytest.raises(TypeError, match="model_randomization.*metric_params"):
        interpret.evaluate(lime_explanation, region_classifier, metrics=["model_randomization"])
    with pytest.raises(ValueError, match="metric_params names metrics not in metrics"):
        interpret.evaluate(lime_explanation, region_classifier, metrics=["deletion"], metric_params={"lerf": {}})
    assert np.isfinite(interpret.evaluate(lime_explanation, metrics=["point_game"], bbox=(0, 0, 8, 8))
                       ["point_game"].score)


def test_evaluate_checks_everything_before_running(lime_explanation, region_classifier):
    calls = []
    original = region_classifier.predict_proba
    region_classifier.predict_proba = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        with pytest.raises(ValueError, match=r"needs \['bbox'\]"):
            interpret.evaluate(lime_explanation, region_classifier, metrics=["deletion", "point_game"])
        with pytest.raises(TypeError, match=r"inputs \['mask'\] are not needed"):
            interpret.evaluate(lime_explanation, region_classifier, metrics=["deletion"], mask=np.ones((64, 64)))
    finally:
        del region_classifier.predict_proba
    assert calls == []  # nothing ran before the error
