"""Explain right after training with PaddleClas: a real ``ppcls.engine.engine.Engine`` trained for
four epochs on digits images (an ImageNet-style folder + label file), then handed to ``interpret.*``.

The pip wheel ``paddleclas`` has no ``ppcls.engine`` (only the architectures under
``paddleclas.ppcls``), so these tests need a PaddleClas source checkout on ``PYTHONPATH`` (its
``ppcls`` folder) and ``visualdl`` importable (``ppcls.engine.engine`` imports it at module level;
``pip install --no-deps visualdl`` is enough because ``use_visualdl`` is off). Checked with
PaddleClas commit d178931 (2024-10-18) on Paddle 3.3.1. Without them the module is skipped.
"""
import os

import numpy as np
import pytest

_SKIP = ("needs PaddleClas's trainer ppcls.engine.engine (not in the pip wheel 'paddleclas'): put a PaddleClas "
         "source checkout on PYTHONPATH and pip install --no-deps visualdl")
try:
    import ppcls.engine.engine as _ppcls_engine  # noqa: F401
except ImportError as _exc:  # the module (or its visualdl import) is missing
    pytest.skip(f"{_SKIP} ({_exc})", allow_module_level=True)

import paddle  # noqa: E402

from paddlex_interpret import interpret  # noqa: E402
from paddlex_interpret.engine.training_data import load_dynamics, record_checkpoints  # noqa: E402
from paddlex_interpret.models import PaddleLayerClassifier, as_classifier  # noqa: E402

NUM_IMAGES = 120
# 32 steps: enough for the BatchNorm running statistics (eval mode) to catch up with training
EPOCHS = 4


def _write_dataset(root):
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    os.makedirs(os.path.join(root, "images"))
    lines = []
    for i in range(NUM_IMAGES):
        pixels = (digits.images[i] / 16.0 * 255.0).astype(np.uint8)
        # 24x24 on disk, resized to 32x32 by the transforms: the resize is part of what is compared
        Image.fromarray(np.stack([pixels] * 3, -1)).resize((24, 24), Image.BILINEAR).save(
            os.path.join(root, "images", f"{i}.png"))
        lines.append(f"images/{i}.png {int(digits.target[i])}")
    with open(os.path.join(root, "train_list.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "labels.txt"), "w") as f:
        f.write("\n".join(f"{k} digit_{k}" for k in range(10)) + "\n")
    return [os.path.join(root, "images", f"{i}.png") for i in range(NUM_IMAGES)], digits.target[:NUM_IMAGES]


def _config(root):
    normalize = {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                                    "order": ""}}
    decode = {"DecodeImage": {"to_rgb": True, "channel_first": False}}
    resize = {"ResizeImage": {"size": 32}}
    dataset = {"name": "ImageNetDataset", "image_root": root, "cls_label_path": os.path.join(root, "train_list.txt"),
               "transform_ops": [decode, resize, normalize]}
    return {
        "Global": {"checkpoints": None, "pretrained_model": None, "output_dir": os.path.join(root, "output"),
                   "device": "cpu", "save_interval": 1, "eval_during_train": False, "epochs": EPOCHS,
                   "print_batch_step": 10, "use_visualdl": False, "image_shape": [3, 32, 32],
                   "save_inference_dir": os.path.join(root, "inference"), "seed": 0},
        "Arch": {"name": "ResNet18", "class_num": 10},
        "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]},
        "Optimizer": {"name": "Momentum", "momentum": 0.9, "lr": {"name": "Cosine", "learning_rate": 0.02}},
        "DataLoader": {"Train": {"dataset": dataset,
                                 "sampler": {"name": "DistributedBatchSampler", "batch_size": 15, "drop_last": False,
                                             "shuffle": True},
                                 "loader": {"num_workers": 0, "use_shared_memory": False}}},
        "Infer": {"infer_imgs": os.path.join(root, "images"), "batch_size": 10,
                  "transforms": [decode, resize, normalize, {"ToCHWImage": None}],
                  "PostProcess": {"name": "Topk", "topk": 5, "class_id_map_file": os.path.join(root, "labels.txt")}},
        "Metric": {"Train": [{"TopkAcc": {"topk": [1, 5]}}]},
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import yaml
    from ppcls.engine.engine import Engine
    from ppcls.utils import config as ppcls_config

    root = str(tmp_path_factory.mktemp("ppcls_digits"))
    files, targets = _write_dataset(root)
    with open(os.path.join(root, "config.yaml"), "w") as f:
        yaml.safe_dump(_config(root), f)
    config = ppcls_config.get_config(os.path.join(root, "config.yaml"), show=False)
    config["profiler_options"] = None  # tools/train.py sets it from the command line
    device = paddle.get_device()
    try:
        engine = Engine(config, mode="train")  # the Engine calls paddle.set_device itself
        engine.train()
    finally:
        paddle.set_device(device)
    return engine, files, targets, root


def _ppcls_logits(engine, files):
    """Logits the PaddleClas way: its own Infer operators on the file bytes, then the network."""
    from ppcls.data import create_operators

    ops = create_operators(engine.config["Infer"]["transforms"])
    batch = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        for op in ops:
            data = op(data)
        batch.append(data)
    was_training = engine.model.training
    engine.model.eval()
    try:
        with paddle.no_grad():
            return engine.model(paddle.to_tensor(np.stack(batch).astype(np.float32))).numpy().astype(np.float64)
    finally:
        engine.model.train(was_training)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def test_engine_becomes_a_classifier_with_its_transforms_and_class_map(trained):
    engine, files, targets, _ = trained
    assert engine.model.training  # PaddleClas leaves the network in train mode after train()
    classifier = as_classifier(engine)
    assert isinstance(classifier, PaddleLayerClassifier)
    assert classifier.num_classes == 10
    assert classifier.labels == [f"digit_{k}" for k in range(10)]
    images = np.stack([classifier.image_as_explained(f) for f in files])
    assert images.shape == (NUM_IMAGES, 32, 32, 3)
    ours = classifier.predict_proba(images)
    theirs = _softmax(_ppcls_logits(engine, files))
    np.testing.assert_allclose(ours, theirs, atol=2e-4)
    # the trained network, not a fresh one: it has learned the training digits (chance: 0.1)
    accuracy = float(np.mean(ours.argmax(1) == targets))
    assert accuracy >= 0.6, accuracy
    assert engine.model.training  # restored


def test_interpret_accepts_the_engine_and_integrated_gradients_is_complete(trained, tmp_path):
    engine, files, _, _ = trained
    before = {k: v.numpy().copy() for k, v in engine.model.state_dict().items()}
    explanation = interpret.intgrad(files[0], engine, save_dir=str(tmp_path), steps=128, gradient_of="logit",
                                    batch_size=64, save_figure=False)
    logits = _ppcls_logits(engine, files[:1])[0]
    target = explanation.target
    assert target == int(np.argmax(logits))
    assert explanation.label_name == f"digit_{target}"
    # completeness: the attributions add up to logit(image) - logit(zero input)
    was_training = engine.model.training
    engine.model.eval()
    with paddle.no_grad():
        zero = float(engine.model(paddle.zeros([1, 3, 32, 32])).numpy()[0, target])
    engine.model.train(was_training)
    gap = float(logits[target]) - zero
    assert abs(gap) > 0.5
    assert abs(float(explanation.attribution.astype(np.float64).sum()) - gap) <= 0.03 * abs(gap)
    assert engine.model.training
    after = engine.model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)


def test_engine_epoch_checkpoints_feed_the_training_data_methods(trained, tmp_path):
    engine, files, targets, root = trained
    classifier = as_classifier(engine)
    images = np.stack([classifier.image_as_explained(f) for f in files])
    inputs = classifier.preprocess(images).astype(np.float32)
    batches = [(np.arange(i, min(i + 40, NUM_IMAGES)), inputs[i:i + 40], targets[i:i + 40])
               for i in range(0, NUM_IMAGES, 40)]
    checkpoints = [os.path.join(root, "output", f"epoch_{e}.pdparams") for e in range(1, EPOCHS + 1)]
    before = {k: v.numpy().copy() for k, v in engine.model.state_dict().items()}
    record_checkpoints(tmp_path / "dyn", engine.model, checkpoints, batches, progress=False)
    dynamics = load_dynamics(tmp_path / "dyn")
    assert dynamics.num_epochs == EPOCHS and dynamics.num_samples == NUM_IMAGES
    # the last epoch's checkpoint is the engine's final network (no EMA): same predictions
    np.testing.assert_array_equal(dynamics.last_predicted, classifier.predict_proba(images).argmax(1))
    result = interpret.find_label_errors(tmp_path / "dyn", method="aum")
    assert result.num_samples == NUM_IMAGES
    after = engine.model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    assert engine.model.training
