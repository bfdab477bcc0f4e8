"""The task API for the per-pixel methods, consensus and compare: files, names, results."""
import numpy as np
import paddle
import pytest
from PIL import Image

from conftest import FAST_METHOD_PARAMS, SmallCNN
from paddlex_interpret import interpret
from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.engine import PixelExplanation, SuperpixelExplanation
from paddlex_interpret.models import PaddleLayerClassifier

FAST = {k: v for k, v in FAST_METHOD_PARAMS.items() if k != "lime"}


@pytest.fixture
def classifier():
    return PaddleLayerClassifier(SmallCNN(), preprocess=ImagePreprocess(None, None), labels=list("abcde"))


@pytest.fixture
def photo(mosaic, tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(mosaic).save(path)
    return path


@pytest.mark.parametrize("method", sorted(FAST))
def test_free_function_writes_its_figure(method, classifier, photo, tmp_path):
    out = tmp_path / "out"
    exp = getattr(interpret, method)(photo, classifier, save_dir=out, target=2, **FAST[method])
    assert isinstance(exp, PixelExplanation) and exp.method == method and exp.target == 2
    assert exp.label_name == "c"
    assert exp.figure_path == str(out / f"photo_{method}_class2.png")  # an explicit target names its file
    assert [p.name for p in out.iterdir()] == [f"photo_{method}_class2.png"]
    saliency = exp.saliency()
    assert saliency.shape == (64, 64) and np.all(np.isfinite(saliency))
    assert getattr(interpret, method)(photo, classifier, save_dir=None, **FAST[method]).figure_path is None
    top1 = getattr(interpret, method)(photo, classifier, save_dir=out, **FAST[method])
    assert top1.figure_path == str(out / f"photo_{method}.png")
    with pytest.raises(ValueError, match="styles must be a non-empty list"):
        getattr(interpret, method)(photo, classifier, save_dir=out, styles=["sparkles"], **FAST[method])


def test_consensus_normalises_averages_and_keeps_per_model_maps(mosaic, tmp_path):
    models = [PaddleLayerClassifier(SmallCNN(), preprocess=ImagePreprocess(None, None)) for _ in range(2)]
    models.append(PaddleLayerClassifier(_reseeded_cnn(11), preprocess=ImagePreprocess(None, None)))
    exp = interpret.consensus(mosaic, models, method="smoothgrad", save_dir=tmp_path, target=1,
                              method_params={"n_samples": 3, "random_state": 0})
    per_model = exp.extras["per_model"]
    assert per_model.shape == (3, 64, 64)
    np.testing.assert_allclose(per_model.max(axis=(1, 2)), 1.0)  # 'max' normalisation
    np.testing.assert_allclose(exp.attribution, per_model.mean(axis=0))
    single = interpret.smoothgrad(mosaic, models[2], save_dir=None, target=1, n_samples=3, random_state=0)
    s = single.saliency()
    np.testing.assert_allclose(per_model[2], s / s.max(), rtol=1e-6)
    assert exp.figure_path.endswith("image_consensus_smoothgrad.png")
    with pytest.raises(ValueError, match="one class per model"):
        interpret.consensus(mosaic, models, target=[1, 2], save_dir=None)
    with pytest.raises(ValueError, match="unknown method 'shap'"):
        interpret.consensus(mosaic, models, method="shap", save_dir=None)


def _reseeded_cnn(seed):
    net = SmallCNN()
    paddle.seed(seed)
    for name, p in net.named_parameters():
        if not name.endswith(("_mean", "_variance")):  # keep BatchNorm statistics valid
            p.set_value(paddle.randn(p.shape) * 0.3)
    return net


def test_compare_runs_every_method_on_one_target(classifier, photo, tmp_path):
    methods = ["lime", "gradcam", "smoothgrad", "occlusion"]
    exps = interpret.compare(photo, classifier, methods=methods, save_dir=tmp_path,
                             method_params={"lime": {"num_samples": 20, "random_state": 0},
                                            "smoothgrad": FAST["smoothgrad"], "occlusion": FAST["occlusion"]})
    assert [e.method for e in exps] == methods
    assert isinstance(exps[0], SuperpixelExplanation)
    assert len({e.target for e in exps}) == 1
    assert exps[0].figure_path == str(tmp_path / "photo_compare.png")
    with Image.open(exps[0].figure_path) as img:
        assert img.format == "PNG"
    with pytest.raises(ValueError, match="method_params names methods not in methods"):
        interpret.compare(photo, classifier, methods=["gradcam"], method_params={"lime": {}}, save_dir=None)
