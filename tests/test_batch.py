"""Batch jobs (``interpret.explain_folder``) on the serial backend: outputs, index and gallery, resume,
failures, the model travelling as a path. The other backends: tests/test_batch_backends.py."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from paddlex_interpret import interpret
from paddlex_interpret.batch import ModelSpec, item_seed
from paddlex_interpret.batch.manifest import MANIFEST_NAME
from paddlex_interpret.engine import load_explanation

LIME = {"num_samples": 24, "batch_size": 24, "segmentation_params": {"kernel_size": 2, "max_dist": 20, "ratio": 0.5}}


def explanations(result):
    """key -> the saved explanation of every finished item."""
    return {r["key"]: load_explanation(result.save_dir / r["outputs"]["explanation"]["path"])
            for r in result.records if r["status"] == "done"}


def assert_same(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key].segments, b[key].segments)
        assert a[key].target == b[key].target and a[key].params["random_state"] == b[key].params["random_state"]
        np.testing.assert_allclose(a[key].weights[a[key].target], b[key].weights[b[key].target], rtol=1e-6, atol=1e-9)


@pytest.fixture(scope="module")
def serial_run(batch_model_dir, batch_photo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return interpret.explain_folder(batch_photo_dir, str(batch_model_dir), method="lime", save_dir=out, seed=3,
                                    progress=False, **LIME)


def test_a_folder_gives_one_figure_one_explanation_per_image_and_an_index(serial_run, batch_photo_dir):
    result = serial_run
    images = sorted(p.relative_to(batch_photo_dir).as_posix() for p in batch_photo_dir.rglob("*.*"))
    assert [r["key"] for r in result.records] == images and result.done == 6 and result.failed == 0
    for r in result.records:
        assert (result.save_dir / r["outputs"]["figure"]["path"]).stat().st_size > 1000
        exp = load_explanation(result.save_dir / r["outputs"]["explanation"]["path"])
        assert exp.params["random_state"] == item_seed(3, r["key"]) == r["seed"]
        assert exp.image.shape == (32, 32, 3) and exp.params["num_samples"] == 24
    assert (result.save_dir / "sub" / "retina.jpg.lime.png").is_file()
    with open(result.index_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["key"] for row in rows] == images and {row["status"] for row in rows} == {"done"}
    page = result.gallery.read_text(encoding="utf-8")
    assert page.count("<img ") == 6 and "thumbs/sub/retina.jpg.lime.jpg" in page
    lines = [json.loads(line) for line in (result.save_dir / MANIFEST_NAME).read_text().splitlines()]
    assert lines[0]["type"] == "job" and len(lines) == 7
    assert all(len(r["input_sha256"]) == 64 and r["outputs"]["figure"]["sha256"] for r in lines[1:])


def test_the_same_as_the_free_function_on_one_image(serial_run, batch_model_dir, batch_photo_dir, tmp_path):
    """An item is exactly interpret.lime on that file with the item's seed."""
    record = serial_run.records[0]
    single = interpret.lime(str(batch_photo_dir / record["key"]), str(batch_model_dir), save_dir=None,
                            random_state=record["seed"], progress=False, **LIME)
    saved = load_explanation(serial_run.save_dir / record["outputs"]["explanation"]["path"])
    np.testing.assert_array_equal(single.segments, saved.segments)
    np.testing.assert_allclose(single.weights[single.target], saved.weights[saved.target], rtol=1e-6, atol=1e-9)


def test_a_rerun_skips_verified_items_and_redoes_corrupt_or_missing_ones(serial_run, batch_model_dir,
                                                                          batch_photo_dir, tmp_path):
    import shutil

    from paddlex_interpret.batch.manifest import Manifest

    out = tmp_path / "out"
    shutil.copytree(serial_run.save_dir, out)  # the manifest's paths are relative: a moved folder resumes
    before = explanations(serial_run)
    records = {r["key"]: r for r in serial_run.records}
    corrupt = out / records["coffee.jpg"]["outputs"]["explanation"]["path"]
    corrupt.write_bytes(corrupt.read_bytes()[:100])  # a half-written file
    (out / records["chelsea.png"]["outputs"]["figure"]["path"]).unlink()
    redone = []
    second = interpret.explain_folder(batch_photo_dir, str(batch_model_dir), save_dir=out, seed=3,
                                      progress=False, callback=lambda r: redone.append(r["key"]), **LIME)
    assert sorted(redone) == ["chelsea.png", "coffee.jpg"]
    assert second.done == 2 and second.skipped == 4
    assert_same(before, explanations(second))
    third = interpret.explain_folder(batch_photo_dir, str(batch_model_dir), save_dir=out, seed=3,
                                     progress=False, **LIME)
    assert third.done == 0 and third.skipped == 6
    # other parameters (seed, method parameters, model) are another job: nothing verifies
    manifest = Manifest(out)
    record = manifest.records["coffee.jpg"]
    assert manifest.verified("coffee.jpg", record["fingerprint"], record["input_sha256"]) is not None
    assert manifest.verified("coffee.jpg", "another job", record["input_sha256"]) is None
    assert manifest.verified("coffee.jpg", record["fingerprint"], "0" * 64) is None  # the input changed


def test_changed_parameters_redo_the_item(batch_model_dir, batch_photo_dir, tmp_path):
    photo = [batch_photo_dir / "chelsea.png"]
    first = interpret.explain_folder(photo, str(batch_model_dir), save_dir=tmp_path, progress=False, **LIME)
    again = interpret.explain_folder(photo, str(batch_model_dir), save_dir=tmp_path, progress=False, **LIME)
    other = interpret.explain_folder(photo, str(batch_model_dir), save_dir=tmp_path, progress=False,
                                     **{**LIME, "num_samples": 25})
    assert (first.done, again.skipped, other.done) == (1, 1, 1)
    assert load_explanation(tmp_path / "chelsea.png.lime.npz").params["num_samples"] == 25


def test_an_interrupted_job_resumes_with_only_the_missing_items(batch_model_dir, batch_photo_dir, tmp_path):
    seen = []

    def stop_after_two(record):
        seen.append(record["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    photos = sorted(batch_photo_dir.glob("*.*"))[:4]
    with pytest.raises(KeyboardInterrupt):
        interpret.explain_folder(photos, str(batch_model_dir), save_dir=tmp_path, progress=False,
                                 callback=stop_after_two, **LIME)
    manifest = [json.loads(line) for line in (tmp_path / MANIFEST_NAME).read_text().splitlines()]
    assert [r["key"] for r in manifest if r["type"] == "item"] == seen  # consistent: what was done is recorded
    assert not list(tmp_path.rglob(".*.tmp*")) and not (tmp_path / ".batch.lock").exists()
    rest = []
    result = interpret.explain_folder(photos, str(batch_model_dir), save_dir=tmp_path, progress=False,
                                      callback=lambda r: rest.append(r["key"]), **LIME)
    assert result.skipped == 2 and result.done == 2 and not set(rest) & set(seen)
    assert len(result.records) == 4 and all(r["status"] == "done" for r in result.records)


def test_a_bad_image_is_recorded_as_failed_and_the_others_succeed(batch_model_dir, batch_photo_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted(batch_photo_dir.glob("*.png"))[:2]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.jpg").write_bytes(b"this is not a JPEG")
    result = interpret.explain_folder(folder, str(batch_model_dir), save_dir=tmp_path / "out", progress=False, **LIME)
    assert result.done == 2 and result.failed == 1
    failed = result.failures[0]
    assert failed["key"] == "broken.jpg" and failed["error"] and failed["outputs"] == {}
    assert "broken.jpg" in result.gallery.read_text() and "Failed" in result.gallery.read_text()
    # a re-run retries the failed item only
    again = interpret.explain_folder(folder, str(batch_model_dir), save_dir=tmp_path / "out", progress=False, **LIME)
    assert again.skipped == 2 and again.failed == 1 and again.done == 0


def test_the_gallery_escapes_file_names_and_labels(batch_model_dir, batch_photo_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    evil_name = "<img src=x onerror=alert(1)>&\"'.png"
    (folder / evil_name).write_bytes((batch_photo_dir / "chelsea.png").read_bytes())
    labels = ["<script>alert('label')</script>"] * 5
    result = interpret.explain_folder(folder, ModelSpec(str(batch_model_dir), {"labels": labels}),
                                      save_dir=tmp_path / "out", progress=False, **LIME)
    assert result.done == 1
    page = result.gallery.read_text(encoding="utf-8")
    assert "<script>" not in page and "<img src=x" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&#x27;label&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#x27;.png" in page
    assert "%3Cimg%20src%3Dx" in page  # links are URL-quoted
    with open(result.index_csv, encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["key"] == evil_name and row["label"] == labels[0]


def test_model_objects_run_serially_and_other_backends_say_what_to_pass(batch_model_dir, batch_photo_dir,
                                                                        tmp_path):
    from paddlex_interpret.models import as_classifier

    classifier = as_classifier(str(batch_model_dir))
    result = interpret.explain_folder(sorted(batch_photo_dir.glob("*.png"))[:1], classifier, save_dir=tmp_path,
                                      progress=False, **LIME)
    assert result.done == 1
    for backend in ("processes", "ray"):
        with pytest.raises(TypeError, match="must travel as data: pass a path"):
            interpret.explain_folder(batch_photo_dir, classifier, save_dir=tmp_path, backend=backend, **LIME)


def test_bad_arguments_name_what_is_valid(batch_model_dir, batch_photo_dir, tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        interpret.explain_folder(batch_photo_dir, str(batch_model_dir), save_dir=tmp_path, backend="spark")
    with pytest.raises(ValueError, match="method must be one of"):
        interpret.explain_folder(batch_photo_dir, str(batch_model_dir), method="lime_text", save_dir=tmp_path)
    with pytest.raises(TypeError, match="takes no parameters \\['n_samples'\\]"):
        interpret.explain_folder(batch_photo_dir, str(batch_model_dir), save_dir=tmp_path, n_samples=3)
    with pytest.raises(TypeError, match="must not set \\['random_state'\\]"):
        interpret.explain_folder(batch_photo_dir, str(batch_model_dir), save_dir=tmp_path, random_state=3)
    with pytest.raises(ValueError, match="needs normlime_weights_file"):
        interpret.explain_folder(batch_photo_dir, str(batch_model_dir), method="normlime", save_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        interpret.explain_folder(tmp_path / "missing", str(batch_model_dir), save_dir=tmp_path)
    with pytest.raises(TypeError, match="cannot travel to a worker"):
        ModelSpec(str(batch_model_dir), {"network": object()})


def test_a_dataset_of_arrays_is_keyed_by_index_and_resumes(batch_model_dir, batch_photo_dir, tmp_path):
    from PIL import Image

    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(batch_photo_dir.glob("*.png"))[:2]]
    first = interpret.explain_folder(arrays, str(batch_model_dir), save_dir=tmp_path, progress=False, **LIME)
    assert [r["key"] for r in first.records] == ["item00000", "item00001"] and first.done == 2
    assert (tmp_path / "item00001.lime.png").is_file()
    arrays[1] = arrays[1][:, ::-1].copy()  # this item's content changed: only it is redone
    again = interpret.explain_folder(arrays, str(batch_model_dir), save_dir=tmp_path, progress=False, **LIME)
    assert (again.skipped, again.done) == (1, 1)
