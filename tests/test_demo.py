"""The real demo model (EfficientNet-Lite0 ImageNet weights) and the real demo photos."""
import pickle

import numpy as np
import pytest
from PIL import Image

from paddlex_interpret import demo, interpret
from paddlex_interpret.models.torch_legacy import LegacyTorchFormatError, read_legacy_state_dict
from paddlex_interpret.vis import lime_figure

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def test_port_is_correct_on_real_photos(demo_model, demo_images):
    cat = demo_model.top_classes(demo_model.image_as_explained(demo_images["chelsea"]), k=5)
    coffee = demo_model.top_classes(demo_model.image_as_explained(demo_images["coffee"]), k=5)
    assert cat[0][0] in CAT_CLASSES
    assert sum(p for i, _, p in cat if i in CAT_CLASSES) > 0.8
    assert coffee[0][0] == ESPRESSO and coffee[0][1] == "espresso" and coffee[0][2] > 0.8
    assert demo_model.num_classes == 1000 and demo_model.label_name(285) == "Egyptian cat"


def test_lime_figure_on_the_demo_model(demo_model, demo_images, tmp_path):
    exp = interpret.lime(demo_images["chelsea"], demo_model, num_samples=60, batch_size=30,
                         save_dir=tmp_path, random_state=0, progress=False)
    assert exp.target in CAT_CLASSES and exp.image.shape == (224, 224, 3)
    assert exp.figure_path == str(tmp_path / "chelsea_lime_s60.png")
    with Image.open(exp.figure_path) as img:
        assert img.size == (2000, 800)
    fig = lime_figure(exp)
    axes = fig.get_axes()
    assert len(axes) == 10
    geometry = {ax.get_subplotspec().get_geometry()[:2] for ax in axes}
    assert geometry == {(2, 5)}
    titles = [ax.get_title() for ax in axes]
    assert titles[0].startswith(f"label {exp.label_name}, proba: ")
    assert all(t.startswith(f"label {exp.label_name}, first ") and t.endswith("superpixels") for t in titles[5:])
    # more panels show at least as many superpixels (thresholds rise from 0.6 to 0.85)
    counts = [int(t.split("first ")[1].split()[0]) for t in titles[5:]]
    assert counts == sorted(counts) and counts[0] >= 1


def test_weights_are_cached_once_and_a_corrupt_cache_is_rebuilt(tmp_path, demo_images):
    model = demo.load_model(cache_dir=tmp_path)
    cache = tmp_path / "efficientnet_lite0_imagenet.pdparams"
    assert cache.is_file() and [p.name for p in tmp_path.iterdir()] == [cache.name]
    image = model.image_as_explained(demo_images["coffee"])
    ref = model.predict_proba(image[None])
    cache.write_bytes(cache.read_bytes()[:1000])  # truncated
    again = demo.load_model(cache_dir=tmp_path)
    np.testing.assert_allclose(again.predict_proba(image[None]), ref, rtol=1e-6)
    assert cache.stat().st_size > 1_000_000


def test_legacy_reader_refuses_code_and_truncation(tmp_path):
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(b"cos\nsystem\n(S'echo hi'\ntR.")  # a pickle that would call os.system
    with pytest.raises(LegacyTorchFormatError, match="refusing to load os.system"):
        read_legacy_state_dict(evil)
    notorch = tmp_path / "x.pth"
    notorch.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(LegacyTorchFormatError, match="bad magic number"):
        read_legacy_state_dict(notorch)
    real = demo._torch_weights_file()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(real.read_bytes()[:2_000_000])
    with pytest.raises(LegacyTorchFormatError, match="truncated"):
        read_legacy_state_dict(cut)


def test_image_paths_are_real_files():
    paths = demo.image_paths()
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["chelsea.png", "coffee.png"]
    labels = demo.imagenet_labels()
    assert len(labels) == 1000 and labels[ESPRESSO] == "espresso" and labels[0] == "tench"
