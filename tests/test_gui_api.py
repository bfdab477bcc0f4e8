"""The explain button's JSON API against the real application (FastAPI + a real Paddle model).

The model is a small random-init conv net (conftest's SmallCNN) with a label that is an HTML
attack; a gated twin blocks in its forward until the test lets a batch through, so progress,
queueing and cancelling are checked step by step, without timing.
"""
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import available, load_explanation
from paddlex_interpret.models import PaddleLayerClassifier

from conftest import SmallCNN

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from paddlex_interpret.gui import create_app  # noqa: E402
from paddlex_interpret.gui.catalog import method_parameters  # noqa: E402

EVIL = "<img src=x onerror=alert(1)>"
LABELS = [EVIL, "cat", "dog", "car", "tree"]
BASE = "http://127.0.0.1:8765"


def tiny_classifier(net=None):
    return PaddleLayerClassifier(net or SmallCNN(), preprocess=ImagePreprocess(resize_short=None, crop_size=(48, 48)),
                                 labels=LABELS, runner="dygraph")


class GatedCNN(SmallCNN):
    """SmallCNN whose forward waits for a permit: the test lets batches through one by one."""

    def __init__(self):
        super().__init__()
        self.permits = threading.Semaphore(0)

    def forward(self, x):
        if not self.permits.acquire(timeout=60):
            raise RuntimeError("test gate never opened")
        return super().forward(x)


def png_bytes(h=60, w=72, seed=0):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server():
    gated = GatedCNN()
    models = {"tiny": tiny_classifier(), "gated": tiny_classifier(gated)}
    gated.permits.release()  # create_app asks the model for its class count (one forward)
    app = create_app(models, max_upload_bytes=200_000, max_pixels=100_000)
    while gated.permits.acquire(blocking=False):
        pass
    client = TestClient(app, base_url=BASE)
    client.headers["X-PXI-Token"] = app.state.token
    yield app, client, gated
    app.state.close()


def upload(client, data=None, name="photo.png"):
    r = client.post("/api/inputs", files={"file": (name, data if data is not None else png_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    return r.json()


def wait(client, job_id, until=lambda j: j["state"] not in ("queued", "running"), deadline=60):
    end = time.time() + deadline
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job) or time.time() > end:
            return job
        time.sleep(0.01)


def explain(client, method, params=None, model="tiny", input_id=None):
    input_id = input_id or upload(client)["id"]
    r = client.post("/api/explain", json={"model": model, "method": method, "params": params or {}, "input": input_id})
    assert r.status_code == 200, r.text
    return r.json()


# -- what is offered ------------------------------------------------------------------------------
def test_models_and_methods_come_from_the_registry(server):
    app, client, _ = server
    models = {m["id"]: m for m in client.get("/api/models").json()}
    assert set(models) == {"tiny", "gated"}
    tiny = models["tiny"]
    assert tiny["kind"] == "image" and tiny["num_classes"] == 5
    assert [m["name"] for m in tiny["methods"]] == [s.name for s in available(explains="image")]
    lime = next(m for m in tiny["methods"] if m["name"] == "lime")
    defaults = {p["name"]: p["default"] for p in lime["params"]}
    assert defaults["num_samples"] == 3000 and defaults["batch_size"] == 50 and defaults["kernel_width"] == 0.25
    # methods that need files or several models are listed, but not runnable from the page
    normlime = next(m for m in tiny["methods"] if m["name"] == "normlime")
    assert not normlime["available"] and "dataset" in normlime["reason"]
    # attention methods are refused up front on a CNN, with the engine's reason (what applies instead)
    for name in ("rollout", "tam", "generic_attention", "bidirectional"):
        row = next(m for m in tiny["methods"] if m["name"] == name)
        assert not row["available"] and "intgrad" in row["reason"], row
    # no parameter that could carry a path is offered
    for m in tiny["methods"]:
        for p in m["params"]:
            assert not any(w in p["name"] for w in ("dir", "file", "path", "url", "dataset")), p
    assert set(client.get("/api/methods").json()) == {"image", "text"}


# -- explain -> progress -> result ----------------------------------------------------------------
def test_explain_progress_result(server):
    app, client, _ = server
    job = explain(client, "lime", {"num_samples": 40, "batch_size": 8, "random_state": 3})
    assert job["state"] in ("queued", "running", "done")
    assert job["progress"]["total"] == 41
    job = wait(client, job["id"])
    assert job["state"] == "done", job["error"]
    # the samples the model really scored: the top classes' prediction and LIME's 40
    assert job["progress"] == {"done": 41, "total": 41, "fraction": 1.0}
    assert sorted(job["files"]) == ["html", "npz", "png"]
    # the explained class is the model's own top-1, with its (hostile) label as plain data
    clf = app.state.models["tiny"].classifier
    image = clf.image_as_explained(np.asarray(Image.open(io.BytesIO(png_bytes()))))
    probs = clf.predict_proba(image[None])[0]
    assert job["result"]["target"] == int(np.argmax(probs))
    assert job["result"]["label"] == LABELS[int(np.argmax(probs))]
    assert job["result"]["probability"] == pytest.approx(float(probs.max()), abs=1e-5)
    assert [c["index"] for c in job["result"]["top_classes"]] == list(np.argsort(-probs, kind="stable"))
    png = client.get(f"/api/jobs/{job['id']}/files/png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size[0] > 100
    assert png.headers["content-disposition"].startswith("inline")
    page = client.get(f"/api/jobs/{job['id']}/files/html")
    assert page.headers["content-disposition"].startswith("attachment")
    assert EVIL not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    # the run is listed, newest first
    runs = client.get("/api/jobs").json()
    assert runs[0]["id"] == job["id"]


def test_result_is_the_methods_own(server, tmp_path):
    """The GUI runs the free function: the same seed gives the same map as interpret.smoothgrad."""
    app, client, _ = server
    job = wait(client, explain(client, "smoothgrad", {"n_samples": 4, "random_state": 5})["id"])
    assert job["state"] == "done", job["error"]
    assert job["progress"]["done"] == job["progress"]["total"] == 6
    path = tmp_path / "e.npz"
    path.write_bytes(client.get(f"/api/jobs/{job['id']}/files/npz?download=1").content)
    from_gui = load_explanation(path)
    image = np.asarray(Image.open(io.BytesIO(png_bytes())).convert("RGB"))
    direct = interpret.smoothgrad(image, app.state.models["tiny"].classifier, n_samples=4, random_state=5,
                                  save_dir=None)
    np.testing.assert_allclose(from_gui.attribution, direct.attribution, rtol=1e-5, atol=1e-8)
    assert from_gui.params["random_state"] == 5


@pytest.mark.parametrize("method,params", [
    ("intgrad", {"steps": 3}), ("gradshap", {"n_samples": 2}), ("occlusion", {"strides": 16}),
    ("occlusion", {"sliding_window_shapes": "3,20,20", "strides": "3,14,14"}), ("gradcam", {}), ("lrp", {}),
])
def test_progress_total_is_the_real_work(server, method, params):
    _, client, _ = server
    job = wait(client, explain(client, method, params)["id"])
    assert job["state"] == "done", job["error"]
    assert job["progress"]["total"] == job["progress"]["done"] > 0


def test_progress_moves_with_the_work_and_jobs_queue(server):
    app, client, gated = server
    job = explain(client, "lime", {"num_samples": 30, "batch_size": 10}, model="gated")
    queued = explain(client, "lime", {"num_samples": 30, "batch_size": 10}, model="gated")
    assert queued["state"] == "queued" and queued["queue_position"] >= 1
    assert job["progress"]["total"] == 31
    seen = []
    for step in range(4):  # the top classes' prediction, then LIME's three batches
        gated.permits.release()
        expected = 1 + 10 * step
        now = wait(client, job["id"], until=lambda j, n=expected: j["progress"]["done"] >= n)
        seen.append(now["progress"]["done"])
        if step < 3:
            assert now["state"] == "running"
            assert now["progress"]["fraction"] == pytest.approx(expected / 31)
            # one job per model at a time: the second one waits
            assert client.get(f"/api/jobs/{queued['id']}").json()["state"] == "queued"
    assert seen == [1, 11, 21, 31]
    assert wait(client, job["id"])["state"] == "done"
    # the queued job starts now; cancel it while its first prediction waits in the model
    wait(client, queued["id"], until=lambda j: j["state"] == "running")
    client.post(f"/api/jobs/{queued['id']}/cancel")
    gated.permits.release()
    cancelled = wait(client, queued["id"])
    assert cancelled["state"] == "cancelled" and cancelled["files"] == []
    assert cancelled["progress"]["done"] == 1  # the call in flight finished, no further one started
    assert not (app.state.jobs.work_dir / queued["id"]).exists()


def test_cancel_a_queued_job(server):
    _, client, gated = server
    running = explain(client, "lime", {"num_samples": 20, "batch_size": 20}, model="gated")
    waiting = explain(client, "smoothgrad", {"n_samples": 2}, model="tiny")
    r = client.post(f"/api/jobs/{waiting['id']}/cancel")
    assert r.json()["state"] == "cancelled"
    gated.permits.release()
    gated.permits.release()
    assert wait(client, running["id"])["state"] == "done"
    assert client.get(f"/api/jobs/{waiting['id']}").json()["progress"]["done"] == 0


def test_a_failed_job_shows_its_error_and_the_server_goes_on(server):
    _, client, _ = server
    bad = wait(client, explain(client, "lime", {"num_samples": 10, "kernel_width": -1.0})["id"])
    assert bad["state"] == "failed" and "kernel_width" in bad["error"] and bad["files"] == []
    layer = wait(client, explain(client, "gradcam", {"target_layer": "no_such_layer"})["id"])
    assert layer["state"] == "failed" and "no_such_layer" in layer["error"]
    good = wait(client, explain(client, "gradcam")["id"])
    assert good["state"] == "done", good["error"]
    assert client.get(f"/api/jobs/{bad['id']}/files/png").status_code == 404


def test_the_model_is_left_as_it_was(server):
    app, client, _ = server
    layer = app.state.models["tiny"].classifier.network
    layer.train()
    before = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    for method in ("gradcam", "smoothgrad"):
        params = {"n_samples": 2} if method == "smoothgrad" else {}
        assert wait(client, explain(client, method, params)["id"])["state"] == "done"
    assert layer.training
    layer.eval()
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_compare_runs_several_methods_on_one_input(server):
    _, client, _ = server
    input_id = upload(client)["id"]
    r = client.post("/api/compare", json={"model": "tiny", "input": input_id, "methods": ["gradcam", "smoothgrad"],
                                          "params": {"smoothgrad": {"n_samples": 2}}})
    assert r.status_code == 200, r.text
    jobs = r.json()["jobs"]
    assert [j["method"] for j in jobs] == ["gradcam", "smoothgrad"]
    assert len({j["group"] for j in jobs}) == 1 and {j["input"] for j in jobs} == {input_id}
    for j in jobs:
        assert wait(client, j["id"])["state"] == "done"


# -- bad requests ------------------------------------------------------------------------------------
def test_bad_uploads(server):
    _, client, _ = server
    r = client.post("/api/inputs", files={"file": ("x.png", b"not an image at all", "image/png")})
    assert r.status_code == 400 and "not an image" in r.json()["error"]
    r = client.post("/api/inputs", data={"other": "1"})
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    big = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)  # noise PNGs do not compress
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "PNG")
    assert len(buf.getvalue()) > 200_000
    r = client.post("/api/inputs", files={"file": ("big.png", buf.getvalue(), "image/png")})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    # small file, too many pixels (a flat 400 x 300 PNG is a few hundred bytes)
    buf = io.BytesIO()
    Image.new("RGB", (400, 300)).save(buf, "PNG")
    assert len(buf.getvalue()) < 200_000
    r = client.post("/api/inputs", files={"file": ("wide.png", buf.getvalue(), "image/png")})
    assert r.status_code == 413 and "120000 pixels" in r.json()["error"]
    # a text for an image model
    text = client.post("/api/inputs", data={"text": "hello"}).json()
    r = client.post("/api/explain", json={"model": "tiny", "method": "gradcam", "input": text["id"]})
    assert r.status_code == 400 and "explains images" in r.json()["error"]


def test_file_names_are_data(server):
    _, client, _ = server
    item = upload(client, name="../../etc/" + EVIL + ".png")
    assert item["name"] == EVIL + ".png"  # the last component only, shown with textContent by the page
    assert upload(client, name="C:\\Users\\me\\cat.png")["name"] == "cat.png"


@pytest.mark.parametrize("headers,status", [
    ({"X-PXI-Token": "wrong-token-wrong-token"}, 403),
    ({"X-PXI-Token": ""}, 403),
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "http://127.0.0.1:9999"}, 403),
    ({"Host": "evil.example"}, 400),
    ({"Host": "evil.example:8765"}, 400),
])
def test_token_origin_and_host_are_checked(server, headers, status):
    _, client, _ = server
    r = client.get("/api/models", headers=headers)
    assert r.status_code == status, r.text
    assert "error" in r.json()


def test_own_origin_and_token_in_the_query(server):
    app, client, _ = server
    assert client.get("/api/models", headers={"Origin": BASE}).status_code == 200
    fresh = TestClient(app, base_url=BASE)
    assert fresh.get("/api/models").status_code == 403
    assert fresh.get(f"/api/models?token={app.state.token}").status_code == 200
    page = fresh.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from outside


def test_mounted_in_another_application(server):
    """Embedding: under a mount prefix the page and the API work, and the token is still required."""
    from fastapi import FastAPI

    app, _, _ = server
    outer = FastAPI()
    outer.mount("/explain", app)
    client = TestClient(outer, base_url=BASE)
    assert client.get("/explain/").status_code == 200
    assert client.get("/explain/static/app.js").status_code == 200
    assert client.get("/explain/api/models").status_code == 403
    assert client.get("/explain/static/index.html").status_code == 403
    r = client.get("/explain/api/models", headers={"X-PXI-Token": app.state.token})
    assert r.status_code == 200 and {m["id"] for m in r.json()} == {"tiny", "gated"}


def test_unknown_ids_and_parameters(server):
    _, client, _ = server
    input_id = upload(client)["id"]
    r = client.post("/api/explain", json={"model": "nope", "method": "lime", "input": input_id})
    assert r.status_code == 404 and "tiny" in r.json()["error"]
    r = client.post("/api/explain", json={"model": "tiny", "method": "nope", "input": input_id})
    assert r.status_code == 400 and "lime" in r.json()["error"]
    r = client.post("/api/explain", json={"model": "tiny", "method": "normlime", "input": input_id})
    assert r.status_code == 400 and "cannot run here" in r.json()["error"]
    r = client.post("/api/explain", json={"model": "tiny", "method": "lime", "input": "nope"})
    assert r.status_code == 404
    for params in ({"save_dir": "/tmp"}, {"normlime_weights_file": "/etc/passwd"}, {"top_k": "many"},
                   {"num_samples": 10 ** 9}, {"show_negative": "yes"}, {"kernel_width": [1, 2]}):
        r = client.post("/api/explain", json={"model": "tiny", "method": "lime", "input": input_id, "params": params})
        assert r.status_code == 422, (params, r.text)
    assert "valid" in client.post("/api/explain", json={"model": "tiny", "method": "lime", "input": input_id,
                                                          "params": {"save_dir": "/tmp"}}).json()["error"]
    # a text where the method takes one ('auto'), but not this one: the method's own check names it
    job = explain(client, "lime", {"num_samples": "many"}, input_id=input_id)
    job = wait(client, job["id"])
    assert job["state"] == "failed" and "num_samples" in job["error"]
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.post("/api/jobs/nope/cancel").status_code == 404
    assert client.get("/static/..%2fapp.py").status_code == 404
    assert client.get("/static/catalog.py").status_code == 404
    r = client.post("/api/explain", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_parameters_are_coerced_to_their_types():
    from paddlex_interpret.gui.catalog import ParameterError, coerce_params

    got = coerce_params("lime", {"num_samples": "auto", "hide_color": "mean", "kernel_width": "0.5", "top_k": "2",
                                 "num_features": "", "show_negative": True})
    assert got == {"num_samples": "auto", "hide_color": "mean", "kernel_width": 0.5, "top_k": 2,
                   "num_features": None, "show_negative": True}
    assert coerce_params("occlusion", {"sliding_window_shapes": "3,8,8"}) == {"sliding_window_shapes": (3, 8, 8)}
    with pytest.raises(ParameterError, match="top_k"):
        coerce_params("lime", {"top_k": 1.5})
    names = [p["name"] for p in method_parameters("smoothgrad")]
    assert names == ["target", "n_samples", "noise_amount", "gradient_of", "batch_size", "random_state"]


def test_create_app_checks_its_arguments():
    with pytest.raises(ValueError, match="max_pixels"):
        create_app({"tiny": tiny_classifier()}, max_pixels=0)
    with pytest.raises(ValueError, match="token"):
        create_app({"tiny": tiny_classifier()}, token="short")
    app = create_app([tiny_classifier(), ("second", tiny_classifier())])
    assert sorted(app.state.models) == ["model1", "second"]
    assert len(app.state.token) >= 24
    app.state.close()


def test_bind_host_is_loopback_unless_asked():
    from paddlex_interpret.gui.server import check_bind_host

    assert check_bind_host("127.0.0.1", False) is None
    assert check_bind_host("::1", False) is None
    with pytest.raises(ValueError, match="allow-remote"):
        check_bind_host("0.0.0.0", False)
    assert "WARNING" in check_bind_host("0.0.0.0", True)


# -- the command line --------------------------------------------------------------------------------
def test_gui_model_specs():
    from paddlex_interpret.cli import gui_models

    assert gui_models([]) == {"demo": "demo"}
    assert gui_models(["cats=/m/cls", "/m/other/"]) == {"cats": "/m/cls", "other": "/m/other/"}
    with pytest.raises(ValueError, match="NAME="):
        gui_models(["a=/x", "a=/y"])


def test_cli_serves_the_models_it_was_given(batch_model_dir, tmp_path):
    """`paddlex-interpret gui --model NAME=DIR --port P` prints the URL with the token and serves the model."""
    import os
    import re
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])  # this checkout, not an installed copy
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "paddlex_interpret", "gui", "--model", f"small={batch_model_dir}",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=str(tmp_path))
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "open http" in line:
                break
        match = re.search(r"(http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))", "".join(lines))
        assert match, "".join(lines)
        assert int(match.group(2)) == port
        token = match.group(3)
        end = time.time() + 60
        while True:  # uvicorn starts listening just after the URL is printed
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/models", headers={"X-PXI-Token": token})
                break
            except httpx.ConnectError:
                assert time.time() < end and proc.poll() is None, "".join(lines)
                time.sleep(0.1)
        assert r.status_code == 200
        assert [(m["id"], m["kind"], m["num_classes"]) for m in r.json()] == [("small", "image", 5)]
        assert httpx.get(f"http://127.0.0.1:{port}/api/models").status_code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_image_models_do_not_import_paddlenlp():
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, 'tests'); from test_gui_api import tiny_classifier; "
            "from paddlex_interpret.gui import create_app; app = create_app({'t': tiny_classifier()}); "
            "app.state.close(); print('paddlenlp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
