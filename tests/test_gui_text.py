"""The explain button with a text model: a small ERNIE trained in the test (positive iff 'good'),
saved with ``save_pretrained`` and given to the GUI as a folder, as ``paddlex-interpret gui --model``
does. Runs in the paddlenlp environment (CI: ``-m paddlenlp`` in .venv-nlp)."""
import pytest

pytestmark = pytest.mark.paddlenlp

pytest.importorskip("paddlenlp")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from _text_models import HELD_OUT, ernie_tokenizer, trained_ernie, write_vocab  # noqa: E402
from paddlex_interpret.engine import available  # noqa: E402
from paddlex_interpret.gui import create_app  # noqa: E402


@pytest.fixture(scope="module")
def text_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review_model")
    tokenizer = ernie_tokenizer(write_vocab(folder))
    model = trained_ernie(tokenizer)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    app = create_app({"review": str(folder)})
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    client.headers["X-PXI-Token"] = app.state.token
    yield app, client
    app.state.close()


def _wait(app, client, job_id):
    app.state.jobs.wait(job_id, timeout=120)
    return client.get(f"/api/jobs/{job_id}").json()


def test_a_text_model_from_a_folder_lists_the_text_methods(text_app):
    _, client = text_app
    (model,) = client.get("/api/models").json()
    assert model["id"] == "review" and model["kind"] == "text" and model["num_classes"] == 2
    assert [m["name"] for m in model["methods"]] == [s.name for s in available(explains="text")]
    lime = next(m for m in model["methods"] if m["name"] == "lime_text")
    assert {p["name"]: p["default"] for p in lime["params"]}["num_samples"] == 1000
    assert "name" not in {p["name"] for p in lime["params"]}  # a file name stem is not the page's to choose


def test_explain_a_sentence(text_app):
    app, client = text_app
    r = client.post("/api/explain", json={"model": "review", "method": "lime_text", "text": HELD_OUT,
                                          "params": {"num_samples": 80, "random_state": 0}})
    assert r.status_code == 200, r.text
    assert r.json()["progress"]["total"] == 80
    job = _wait(app, client, r.json()["id"])
    assert job["state"] == "done", job["error"]
    assert job["progress"]["done"] == 80  # every perturbed text the model scored
    result = job["result"]
    assert result["label"] == "positive" and result["probability"] > 0.9
    # known answer: the model keys on 'good', so 'good' carries the most weight for 'positive'
    assert result["tokens"][0]["token"] == "good" and result["tokens"][0]["weight"] > 0
    assert sorted(job["files"]) == ["html", "npz"]
    page = client.get(f"/api/jobs/{job['id']}/files/html")
    assert page.status_code == 200 and "good" in page.text
    assert page.headers["content-disposition"].startswith("attachment")


def test_text_input_checks(text_app):
    app, client = text_app
    r = client.post("/api/explain", json={"model": "review", "method": "lime_text", "text": "   "})
    assert r.status_code == 400 and "empty" in r.json()["error"]
    r = client.post("/api/explain", json={"model": "review", "method": "lime_text", "text": "good " * 1000})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    item = client.post("/api/inputs", data={"text": "<script>alert(1)</script> good"}).json()
    assert item["kind"] == "text"
    job = client.post("/api/explain", json={"model": "review", "method": "lime_text", "input": item["id"],
                                            "params": {"num_samples": 20}}).json()
    job = _wait(app, client, job["id"])
    assert job["state"] == "done", job["error"]
    page = client.get(f"/api/jobs/{job['id']}/files/html").text
    assert "<script>alert(1)</script>" not in page


def test_an_image_and_a_text_model_side_by_side(text_app, tmp_path):
    """One server for both kinds (the co-install environment's purpose): each explains its own input."""
    import io

    import numpy as np
    from PIL import Image

    from test_gui_api import tiny_classifier

    app, _ = text_app
    folder = next(iter(app.state.models.values())).classifier  # the loaded text classifier
    both = create_app({"review": folder, "tiny": tiny_classifier()})
    client = TestClient(both, base_url="http://127.0.0.1:8765")
    client.headers["X-PXI-Token"] = both.state.token
    try:
        kinds = {m["id"]: m["kind"] for m in client.get("/api/models").json()}
        assert kinds == {"review": "text", "tiny": "image"}
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(buf, "PNG")
        image = client.post("/api/inputs", files={"file": ("x.png", buf.getvalue(), "image/png")}).json()
        jobs = [client.post("/api/explain", json={"model": "tiny", "method": "gradcam", "input": image["id"]}).json(),
                client.post("/api/explain", json={"model": "review", "method": "lime_text", "text": HELD_OUT,
                                                  "params": {"num_samples": 30}}).json()]
        for job in jobs:
            assert _wait(both, client, job["id"])["state"] == "done"
        r = client.post("/api/explain", json={"model": "review", "method": "gradcam", "input": image["id"]})
        assert r.status_code == 400  # an image method is not offered for the text model
    finally:
        both.state.close()


def test_explain_a_sentence_in_the_browser(text_app):
    """The page with a text model: type a sentence, Explain, the tokens are shown (as text)."""
    import threading
    import time

    import uvicorn

    from test_gui_browser import _free_port

    app, _ = text_app
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.time() + 30
    while not server.started and time.time() < end:
        time.sleep(0.05)
    try:
        _browser_session(app, port)
    finally:
        server.should_exit = True
        thread.join(10)


def _browser_session(app, port):
    import os

    from playwright.sync_api import sync_playwright

    from test_gui_browser import CHROMIUM, FLAGS, _until

    if not os.path.isfile(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"the browser {CHROMIUM} is missing")
        pytest.skip(f"the browser {CHROMIUM} is missing")
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = chrome.new_page()
            page.goto(f"http://127.0.0.1:{port}/?token={app.state.token}")
            _until(page, "document.body.dataset.ready === '1'")
            assert page.is_visible("#text") and not page.is_visible("#drop")
            page.fill("#text", "the acting was good <b>and</b> fun")
            page.select_option("#method", "lime_text")
            page.fill("#param-num_samples", "60")
            page.click("#explain")
            _until(page, "document.getElementById('progress-text').textContent.startsWith('done - 60 / 60')", 120)
            assert "(positive)" in page.text_content("#result-head")
            tokens = [li.text_content() for li in page.query_selector_all("#tokens li")]
            assert tokens[0].startswith("good +")
            assert len(tokens) >= 5 and all(" +" in t or " -" in t for t in tokens), tokens
            assert page.evaluate("document.querySelectorAll('#result b, #result script').length") == 0
            assert page.is_hidden("#figure")
            assert [a.get_attribute("data-kind") for a in page.query_selector_all("#downloads a")] == ["npz", "html"]
        finally:
            chrome.close()
