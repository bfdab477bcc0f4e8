"""Explain right after training: the top folder of a PaddleX 3 training output is accepted wherever a
model is (its best model, with the training checkpoint for gradient methods).

The folder is laid out as PaddleX 3 training leaves it (train_results.json, as PaddleClas's update_train_results writes it, best_model/best_model.pdparams,
best_model/inference/ with inference.yml); the network is a real, random-init PaddleClas architecture
exported with paddle.jit.save, because a real PaddleX training needs the PaddleClas repository, which
PaddleX downloads (not possible offline)."""
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from paddlex_interpret import interpret
from paddlex_interpret.models import as_classifier

LABELS = ["apple", "banana", "cherry"]
OPS = [{"ResizeImage": {"resize_short": 96}}, {"CropImage": {"size": 64}},
       {"NormalizeImage": {"channel_num": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                           "order": "", "scale": 0.00392156862745098}}, {"ToCHWImage": None}]


def _export(net, folder, seed):
    import paddle

    folder.mkdir(parents=True)
    paddle.jit.save(net, str(folder / "inference"), input_spec=[paddle.static.InputSpec([None, 3, 64, 64], "float32")])
    config = {"Global": {"model_name": "MobileNetV3_small_x0_35"}, "PreProcess": {"transform_ops": OPS},
              "PostProcess": {"Topk": {"topk": 3, "label_list": LABELS}}}
    (folder / "inference.yml").write_text(yaml.safe_dump(config))
    paddle.save(net.state_dict(), str(folder.parent / f"{folder.parent.name}.pdparams"))


def _network(seed, favoured):
    import paddle
    from paddleclas.ppcls.arch.backbone import MobileNetV3_small_x0_35

    paddle.seed(seed)
    net = MobileNetV3_small_x0_35(pretrained=False, class_num=3)
    with paddle.no_grad():
        net.fc.weight.set_value(net.fc.weight * 40)
        net.fc.bias.set_value(paddle.to_tensor(np.eye(3, dtype="float32")[favoured] * 4))   # tells the two apart
    net.eval()
    return net


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    import skimage.data

    root = tmp_path_factory.mktemp("paddlex_output")
    _export(_network(0, 0), root / "best_model" / "inference", 0)
    _export(_network(1, 2), root / "epoch_2" / "inference", 1)
    photo = root.parent / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(photo)
    return root, photo


def test_training_output_folder_is_its_best_model(output, tmp_path):
    root, photo = output
    folder = as_classifier(str(root))
    inner = as_classifier(str(root / "best_model" / "inference"))
    image = inner.image_as_explained(photo)[None]
    np.testing.assert_allclose(folder.predict_proba(image), inner.predict_proba(image), atol=1e-6)
    assert folder.labels == LABELS
    # the training checkpoint next to the export gives the gradient methods their network
    exp = interpret.smoothgrad(str(photo), str(root), save_dir=tmp_path, n_samples=2, random_state=0)
    assert np.abs(exp.attribution).sum() > 0 and (tmp_path / "chelsea_smoothgrad.png").is_file()


def test_train_results_json_names_the_best_model(output, tmp_path):
    root, photo = output
    # the layout of PaddleClas's update_train_results (ppcls/utils/save_result.py), best = epoch_2 here
    (root / "train_results.json").write_text(json.dumps(
        {"model_name": "ResNet18", "label_dict": "", "train_log": "train.log", "visualdl_log": "",
         "config": "config.yaml", "done_flag": True,
         "models": {"last_1": {}, "best": {"score": 0.9, "pdparams": "epoch_2/epoch_2.pdparams",
                                           "inference_config": "epoch_2/inference/inference.yml",
                                           "pdmodel": "epoch_2/inference/inference.pdmodel",
                                           "pdiparams": "epoch_2/inference/inference.pdiparams"}}}))
    try:
        chosen = as_classifier(str(root))
        epoch2 = as_classifier(str(root / "epoch_2" / "inference"))
        best_model = as_classifier(str(root / "best_model" / "inference"))
        image = epoch2.image_as_explained(photo)[None]
        np.testing.assert_allclose(chosen.predict_proba(image), epoch2.predict_proba(image), atol=1e-6)
        assert chosen.predict_proba(image).argmax() == 2 and best_model.predict_proba(image).argmax() == 0
    finally:
        (root / "train_results.json").unlink()


def test_a_folder_without_a_model_is_still_refused(tmp_path):
    (tmp_path / "best_model").mkdir()
    with pytest.raises((FileNotFoundError, TypeError, ValueError)):
        as_classifier(str(tmp_path))
