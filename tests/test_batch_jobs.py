"""The evaluator sweep (methods x metrics over a folder) and NormLIME's global weights through the batch
machinery: the distributed weights equal the serial ``compute_global_weights``; the sweep's table
holds exactly what ``interpret.evaluate`` says for each image."""
import csv

import numpy as np
import pytest

from paddlex_interpret import interpret

LIME = {"num_samples": 24, "batch_size": 24, "segmentation_params": {"kernel_size": 2, "max_dist": 20, "ratio": 0.5}}


@pytest.fixture(scope="module")
def photos(batch_photo_dir):
    return sorted(batch_photo_dir.glob("*.*"))[:3]


def test_sweep_writes_a_table_a_summary_and_a_figure(batch_model_dir, photos, tmp_path):
    from paddlex_interpret.batch import item_seed
    from paddlex_interpret.models import as_classifier

    methods, metrics = ["lime", "occlusion"], ["deletion", "insertion"]
    params = {"lime": LIME, "occlusion": {"sliding_window_shapes": (3, 8, 8), "strides": 8}}
    metric_params = {"deletion": {"steps": 4}, "insertion": {"steps": 4}}
    result = interpret.evaluate_folder(photos, str(batch_model_dir), methods, metrics, save_dir=tmp_path, seed=2,
                                       method_params=params, metric_params=metric_params, progress=False)
    assert result.done == 3 and result.failed == 0
    with open(result.extra["table"], encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 2 and {r["method"] for r in rows} == set(methods)
    # one cell checked against the free functions on that image with the item's seed
    classifier = as_classifier(str(batch_model_dir))
    key = photos[1].name
    explanation = interpret.lime(str(photos[1]), classifier, save_dir=None, random_state=item_seed(2, key),
                                 progress=False, **LIME)
    report = interpret.evaluate(explanation, classifier, metrics, metric_params=metric_params)
    row = next(r for r in rows if r["key"] == key and r["method"] == "lime")
    for m in metrics:
        assert float(row[m]) == pytest.approx(report[m].score, rel=1e-6, abs=1e-9)
    summary = result.extra["scores"]
    values = [float(r["deletion"]) for r in rows if r["method"] == "occlusion"]
    assert summary["occlusion"]["deletion"]["mean"] == pytest.approx(np.mean(values))
    assert summary["occlusion"]["deletion"]["n"] == 3
    assert result.extra["figure"].stat().st_size > 5000 and result.extra["summary"].is_file()
    again = interpret.evaluate_folder(photos, str(batch_model_dir), methods, metrics, save_dir=tmp_path, seed=2,
                                      method_params=params, metric_params=metric_params, progress=False)
    assert again.skipped == 3 and again.done == 0
    assert again.extra["scores"] == summary


@pytest.fixture(scope="module")
def prior_assets(tmp_path_factory, batch_photo_dir):
    """Prior assets built offline from real photos (a random-init ResNet50_vc stem)."""
    from paddlex_interpret.priors.build import build_prior
    from paddlex_interpret.priors.download import PARAM_SHAPES
    from paddlex_interpret.priors.legacy_tensor import write_lod_tensor

    stem = tmp_path_factory.mktemp("stem")
    rng = np.random.default_rng(1)
    for name, shape in PARAM_SHAPES.items():
        value = rng.normal(0, 0.3, size=shape).astype(np.float32)
        write_lod_tensor(stem / name, np.abs(value) + 0.5 if name.endswith("_variance") else value)
    return build_prior(batch_photo_dir, tmp_path_factory.mktemp("prior") / "assets", clusters=4, stem_weights=stem,
                       progress=False)


@pytest.mark.parametrize("algorithm", ["paddlex", "lime_average"])
def test_normlime_weights_over_workers_equal_the_serial_ones(algorithm, prior_assets, batch_model_dir,
                                                             batch_photo_dir, tmp_path):
    from paddlex_interpret.engine.lime.normlime_dataset import compute_global_weights
    from paddlex_interpret.models import as_classifier

    inputs = sorted(batch_photo_dir.rglob("*.*"))
    lime_params = {"num_samples": 20, "batch_size": 20} if algorithm == "lime_average" else None
    serial = compute_global_weights(as_classifier(str(batch_model_dir)), [str(p) for p in inputs], prior_assets,
                                    algorithm=algorithm, progress=False, lime_params=lime_params, random_state=4)
    weights, job = interpret.normlime_weights(inputs, str(batch_model_dir), prior_assets, tmp_path,
                                              algorithm=algorithm, lime_params=lime_params, random_state=4,
                                              backend="processes", workers=2, progress=False)
    assert job.done == len(inputs) and job.failed == 0
    np.testing.assert_array_equal(weights.weights, serial.weights)
    np.testing.assert_array_equal(weights.class_counts, serial.class_counts)
    assert weights.centres_sha256 == serial.centres_sha256 and weights.label_names == serial.label_names
    assert weights.params == serial.params and weights.num_images == serial.num_images
    from paddlex_interpret.engine.lime.global_weights import GlobalWeights

    np.testing.assert_array_equal(GlobalWeights.load(job.extra["weights_file"]).weights, serial.weights)
