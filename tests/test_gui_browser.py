"""The explain-button page in a real browser: Debian's chromium driven by playwright (never a
downloaded browser) against a uvicorn server started here on 127.0.0.1.

Under CI (``$CI`` set) a missing browser or playwright is a failure, not a skip. A screenshot of
the page after explaining the cat photo is saved in the test's tmp folder and, when
``$PXI_GUI_SCREENSHOT`` names a path, there too (``docs/images/gui.png`` is made that way).
"""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.models import PaddleLayerClassifier

from conftest import SmallCNN
from test_gui_api import GatedCNN, tiny_classifier

CHROMIUM = os.environ.get("PXI_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-gpu", "--disable-dev-shm-usage"]
EVIL = "<img src=x onerror=window.__pwned=1>"


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; CI must install it (apt-get install chromium; pip install playwright)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package")
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing(f"the browser {CHROMIUM}")
    pw = sync_playwright().start()
    try:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    except Exception as exc:
        pw.stop()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"chromium does not start here: {exc}")
    yield chrome
    chrome.close()
    pw.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_model):
    pytest.importorskip("uvicorn")
    import uvicorn

    from paddlex_interpret.gui import create_app, page_url

    evil = PaddleLayerClassifier(SmallCNN(), preprocess=ImagePreprocess(resize_short=None, crop_size=(48, 48)),
                                 labels=[f"{EVIL} {i}" for i in range(5)])
    gated = GatedCNN()
    gated.permits.release()  # create_app asks each model for its class count (one forward)
    app = create_app({"demo": "demo", "tiny": evil, "gated": tiny_classifier(gated)})  # 'demo' as the CLI gives it
    while gated.permits.acquire(blocking=False):
        pass
    app.state.gate = gated.permits
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.time() + 30
    while not server.started and time.time() < end:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield app, page_url(app, "127.0.0.1", port), f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    app.state.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    _, url, base = server
    page.requests, page.console_errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    yield page
    assert all(u.startswith(base + "/") or u.startswith("blob:") for u in page.requests), page.requests
    context.close()


def _until(page, expression: str, deadline: float = 60.0):
    """Poll ``expression`` in the page until it is truthy (page.wait_for_function compiles its predicate
    with eval, which the page's Content-Security-Policy forbids - as it should)."""
    end = time.time() + deadline
    while not page.evaluate(expression):
        if time.time() > end:
            raise AssertionError(f"the page never got to: {expression}")
        time.sleep(0.05)


def _explain(page, model: str, method: str, image_path, params=None):
    page.select_option("#model", model)
    page.set_input_files("#file", str(image_path))
    _until(page, "document.getElementById('input-info').textContent.includes(' x ')")
    page.select_option("#method", method)
    for name, value in (params or {}).items():
        page.fill(f"#param-{name}", str(value))
    page.click("#explain")


def test_explain_a_photo_in_the_browser(page, server, demo_model, demo_images, tmp_path):
    app, _, _ = server
    photo = tmp_path / "chelsea.png"
    Image.open(demo_images["chelsea"]).save(photo)  # a real photo, uploaded from a file as a user would
    _explain(page, "demo", "gradcam", photo)
    assert page.text_content("#input-info").startswith("chelsea.png: 451 x 300")
    _until(page, "document.getElementById('figure').complete && "
                           "document.getElementById('figure').naturalWidth > 0 && "
                           "!document.getElementById('figure').hidden")
    # the class shown is the model's own top-1 for the photo
    top = demo_model.top_classes(demo_model.image_as_explained(demo_images["chelsea"]), k=1)[0]
    head = page.text_content("#result-head")
    assert head.startswith("gradcam: Class ") and f"({top[1]})" in head, head
    # the figure is the server's PNG, shown at its own size (or scaled to the column when wider)
    job = app.state.jobs.list()[0]
    png = Image.open(app.state.jobs.get(job["id"]).files["png"])
    natural, shown, column = page.evaluate(
        "() => { const f = document.getElementById('figure'); "
        "return [f.naturalWidth, f.getBoundingClientRect().width, "
        "document.getElementById('figure-box').clientWidth]; }")
    assert natural == png.size[0]
    assert abs(shown - min(natural, column)) <= 1
    assert shown > 300
    # the bar reached the end with the samples the model scored
    assert page.evaluate("document.getElementById('progress').value") == 1
    progress = page.text_content("#progress-text")
    assert f"{job['progress']['done']} / {job['progress']['total']}" in progress
    assert [a.get_attribute("data-kind") for a in page.query_selector_all("#downloads a")] == ["png", "npz", "html"]
    assert page.query_selector("#runs tbody tr td").text_content() == "gradcam"
    assert not page.console_errors
    shot = tmp_path / "gui.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] == 1280
    target = os.environ.get("PXI_GUI_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(target).with_suffix(".tmp.png")
        shutil.copyfile(shot, tmp)
        os.replace(tmp, target)


def test_labels_and_file_names_are_shown_as_text(page, tmp_path):
    image = tmp_path / f"{EVIL}.png"  # a file name is data too
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(image)
    _explain(page, "tiny", "gradcam", image)
    assert page.text_content("#input-info").startswith(f"{EVIL}.png: 40 x 40")
    _until(page, "document.getElementById('result-head').textContent.length > 0")
    assert EVIL in page.text_content("#result-head")
    assert all(EVIL in li.text_content() for li in page.query_selector_all("#top-classes li"))
    _until(page, "document.querySelector('#runs tbody td:nth-child(4)') && "
                           "document.querySelector('#runs tbody td:nth-child(4)').textContent.length > 0")
    assert EVIL in page.text_content("#runs tbody tr td:nth-child(4)")
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.evaluate("window.__pwned") is None  # no script of the label ran


def test_failed_job_shows_its_error_and_the_page_goes_on(page, tmp_path):
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(image)
    _explain(page, "tiny", "gradcam", image, {"target_layer": "no_such_layer"})
    page.wait_for_selector("#error:not([hidden])")
    assert "no_such_layer" in page.text_content("#error")
    page.fill("#param-target_layer", "")
    page.click("#explain")
    page.wait_for_selector("#error", state="hidden")
    _until(page, "document.getElementById('progress-text').textContent.startsWith('done')")


def test_compare_view_and_chinese_interface(page, tmp_path):
    page.click("#lang-zh")
    assert page.text_content("#explain") == "解释"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(image)
    page.select_option("#model", "tiny")
    page.set_input_files("#file", str(image))
    _until(page, "document.getElementById('input-info').textContent.includes(' x ')")
    page.click("#compare-box summary")
    for name in ("gradcam", "smoothgrad"):
        page.check(f"#compare-methods input[value='{name}']")
    page.click("#compare")
    _until(page, "document.querySelectorAll('#compare-view img').length === 2 && "
                           "Array.from(document.querySelectorAll('#compare-view img')).every(i => i.complete && "
                           "i.naturalWidth > 0)")
    captions = [c.text_content() for c in page.query_selector_all("#compare-view figcaption")]
    # in the registry's order, each with its state in Chinese and the label as text
    assert captions[0].startswith("smoothgrad - 完成") and captions[1].startswith("gradcam - 完成"), captions
    assert EVIL in captions[0]
    page.click("#lang-en")
    assert page.text_content("#explain") == "Explain"


def test_the_bar_moves_with_the_work_and_cancel_stops_it(page, server, tmp_path):
    """A gated model scores one batch per permit: the page's bar and count follow each batch."""
    app, _, _ = server
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(image)
    _explain(page, "gated", "lime", image, {"num_samples": 30, "batch_size": 10})
    _until(page, "document.getElementById('progress-text').textContent.startsWith('running - 0 / 31')")
    assert page.is_enabled("#cancel")
    for done in (1, 11):  # the top classes' prediction, then LIME's first batch
        app.state.gate.release()
        _until(page, f"document.getElementById('progress-text').textContent.includes('{done} / 31')")
        assert page.evaluate("document.getElementById('progress').value") == pytest.approx(done / 31, abs=1e-6)
    page.click("#cancel")
    job = app.state.jobs.get(app.state.jobs.list()[0]["id"])
    end = time.time() + 30
    while not job.meter.cancelled:  # the page's cancel request has reached the server
        assert time.time() < end, "the page did not cancel the job"
        time.sleep(0.02)
    app.state.gate.release()  # the batch in flight finishes; the next one is not started
    _until(page, "document.getElementById('progress-text').textContent.startsWith('cancelled - 21 / 31')")
    assert not page.is_enabled("#cancel")


def test_an_image_dropped_on_the_page_is_uploaded(page):
    page.select_option("#model", "tiny")
    page.evaluate("""async () => {
        const canvas = document.createElement('canvas');
        canvas.width = 30; canvas.height = 20;
        const ctx = canvas.getContext('2d'); ctx.fillStyle = '#c03'; ctx.fillRect(0, 0, 30, 20);
        const blob = await new Promise(done => canvas.toBlob(done, 'image/png'));
        const data = new DataTransfer();
        data.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true,
                                                                             cancelable: true}));
    }""")
    _until(page, "document.getElementById('input-info').textContent.startsWith('dropped.png: 30 x 20')")
    page.select_option("#method", "gradcam")
    page.click("#explain")
    _until(page, "document.getElementById('progress-text').textContent.startsWith('done')")
