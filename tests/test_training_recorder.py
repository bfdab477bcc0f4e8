"""The training-dynamics recorder: manual loop, paddle.Model.fit callback and checkpoint mode agree on
the same training; it resumes after an interruption; chunks are atomic and memory is bounded."""
import json

import numpy as np
import paddle
import pytest

from paddlex_interpret.engine.training_data import (RecordingBatchSampler, TrainingDynamicsCallback,
                                                    TrainingDynamicsRecorder, load_dynamics, record_checkpoints)

NUM = 240


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data[:NUM] / 16.0).astype(np.float32)
    y = d.target[:NUM].astype(np.int64)
    return x, y


def _network():
    # no dropout / batch norm: training-mode and eval-mode forwards are the same function
    paddle.seed(7)
    return paddle.nn.Sequential(paddle.nn.Linear(64, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 10))


class _Digits(paddle.io.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __len__(self):
        return len(self.y)


def _manual_training(net, x, y, folder, batch_size, epochs, seed, checkpoints=None):
    """A plain loop: the recorder is told each batch's ids; optional checkpoints before each epoch."""
    opt = paddle.optimizer.SGD(learning_rate=0.5, parameters=net.parameters())
    loss_fn = paddle.nn.CrossEntropyLoss()
    sampler = RecordingBatchSampler(len(y), batch_size, shuffle=True, seed=seed)
    with TrainingDynamicsRecorder(folder) as rec:
        for _ in range(epochs):
            if checkpoints is not None:
                checkpoints.append({k: paddle.to_tensor(v.numpy().copy()) for k, v in net.state_dict().items()})
            for ids in sampler:
                ids = np.asarray(ids)
                logits = net(paddle.to_tensor(x[ids]))
                rec.update(ids, logits, y[ids])
                loss = loss_fn(logits, paddle.to_tensor(y[ids]))
                loss.backward()
                opt.step()
                opt.clear_grad()
    return rec


def _fit_training(net, x, y, folder, batch_size, epochs, seed):
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.SGD(learning_rate=0.5, parameters=net.parameters()), paddle.nn.CrossEntropyLoss())
    dataset = _Digits(x, y)
    cb = TrainingDynamicsCallback(folder, dataset, batch_size=batch_size, shuffle=True, seed=seed)  # labels read
    loader = paddle.io.DataLoader(dataset, batch_sampler=cb.batch_sampler)
    model.fit(loader, epochs=epochs, callbacks=[cb], verbose=0)
    return cb


def test_callback_and_manual_loop_record_the_same_minibatch_training(digits, tmp_path):
    x, y = digits
    manual = load_dynamics(_manual_training(_network(), x, y, tmp_path / "manual", 32, 4, seed=3))
    net = _network()
    cb = _fit_training(net, x, y, tmp_path / "fit", 32, 4, seed=3)
    fit = load_dynamics(cb)
    assert cb._handle is None and not net._forward_post_hooks       # the hook is gone after fit
    assert fit.epochs.tolist() == manual.epochs.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(fit.sample_ids, np.arange(NUM))
    np.testing.assert_array_equal(fit.labels, y)
    np.testing.assert_allclose(fit.p_gold, manual.p_gold, atol=1e-6)
    np.testing.assert_allclose(fit.margin, manual.margin, atol=1e-5)
    np.testing.assert_array_equal(fit.predicted, manual.predicted)
    assert np.all(np.isfinite(fit.p_gold))
    # the training changed something: the dynamics are not constant over epochs
    assert np.abs(fit.p_gold[:, -1] - fit.p_gold[:, 0]).mean() > 0.05


def test_checkpoint_mode_equals_the_full_batch_training_record(digits, tmp_path):
    """With one batch per epoch, epoch k's training forward runs on the weights before epoch k's
    step, i.e. on checkpoint k: the checkpoint mode must reproduce the training-time record."""
    x, y = digits
    checkpoints = []
    net = _network()
    manual = load_dynamics(_manual_training(net, x, y, tmp_path / "manual", NUM, 5, seed=0, checkpoints=checkpoints))
    cb_dyn = load_dynamics(_fit_training(_network(), x, y, tmp_path / "fit", NUM, 5, seed=0))
    net.train()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    data = [(np.arange(s, min(s + 100, NUM)), x[s:s + 100], y[s:s + 100]) for s in range(0, NUM, 100)]
    ckpt = load_dynamics(record_checkpoints(tmp_path / "ckpt", net, checkpoints, data, progress=False))
    # the network is left as it was: same weights, still in training mode
    assert net.training and all(sub.training for sub in net.sublayers())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    for other in (cb_dyn, ckpt):
        np.testing.assert_allclose(other.p_gold, manual.p_gold, atol=1e-5)
        np.testing.assert_array_equal(other.predicted, manual.predicted)


def test_checkpoints_from_pdparams_files(digits, tmp_path):
    x, y = digits
    net = _network()
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"epoch{k}.pdparams")
        paddle.save(net.state_dict(), str(paths[-1]))
        with paddle.no_grad():
            net[0].weight.set_value(net[0].weight * 0.5)
    rec = record_checkpoints(tmp_path / "rec", net, paths, [(np.arange(NUM), x, y)], progress=False)
    d = rec.dynamics()
    assert d.epochs.tolist() == [0, 1]
    assert not np.allclose(d.p_gold[:, 0], d.p_gold[:, 1])
    once = ((np.arange(NUM), x, y) for _ in range(1))       # a generator: empty for the second checkpoint
    with pytest.raises(ValueError, match="re-iterable"):
        record_checkpoints(tmp_path / "rec3", net, paths, once, progress=False)
    with pytest.raises(TypeError, match="checkpoints\\[0\\]"):
        record_checkpoints(tmp_path / "rec2", net, [42], [(np.arange(NUM), x, y)], progress=False)


def _fake_epoch(rng, n=50, k=3):
    return rng.normal(size=(n, k)).astype(np.float32)


def test_interrupted_run_resumes_and_equals_an_uninterrupted_one(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 50)
    epochs = [_fake_epoch(rng) for _ in range(5)]
    ids = np.arange(50)

    with TrainingDynamicsRecorder(tmp_path / "whole", chunk_rows=16) as rec:
        for z in epochs:
            for s in range(0, 50, 20):
                rec.update(ids[s:s + 20], z[s:s + 20], labels[s:s + 20])
    whole = load_dynamics(tmp_path / "whole")

    folder = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        with TrainingDynamicsRecorder(folder, chunk_rows=16) as rec:
            for e, z in enumerate(epochs):
                for s in range(0, 50, 20):
                    if e == 3 and s == 40:
                        raise KeyboardInterrupt  # killed in the middle of epoch 3
                    rec.update(ids[s:s + 20], z[s:s + 20], labels[s:s + 20])
    rec = TrainingDynamicsRecorder(folder, chunk_rows=16)
    assert rec.completed_epochs == [0, 1, 2] and rec.next_epoch == 3
    assert load_dynamics(folder).epochs.tolist() == [0, 1, 2]  # the interrupted epoch is not read
    with rec:
        for z in epochs[rec.next_epoch:]:
            for s in range(0, 50, 20):
                rec.update(ids[s:s + 20], z[s:s + 20], labels[s:s + 20])
                assert rec._buffered < 16  # bounded memory: never more than chunk_rows rows held
    resumed = load_dynamics(folder)
    assert resumed.epochs.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(resumed.p_gold, whole.p_gold)
    np.testing.assert_array_equal(resumed.margin, whole.margin)
    # append-only, atomic: no temporary file left, chunk files of the interrupted epoch kept but unlisted
    assert not list(folder.glob(".*tmp*"))
    meta = json.loads((folder / "meta.json").read_text())
    on_disk = sorted(p.name for p in folder.glob("chunk_*.npz"))
    assert set(meta["chunks"]) < set(on_disk)
    with pytest.raises(FileExistsError, match="resume=True"):
        TrainingDynamicsRecorder(folder, resume=False)


def test_callback_continues_a_resumed_recording(digits, tmp_path):
    x, y = digits
    net = _network()
    _fit_training(net, x, y, tmp_path / "fit", 64, 2, seed=1)
    rec = TrainingDynamicsRecorder(tmp_path / "fit")
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.SGD(learning_rate=0.5, parameters=net.parameters()), paddle.nn.CrossEntropyLoss())
    cb = TrainingDynamicsCallback(rec, _Digits(x, y), batch_size=64, labels=y, seed=1)
    model.fit(paddle.io.DataLoader(_Digits(x, y), batch_sampler=cb.batch_sampler), epochs=2, callbacks=[cb], verbose=0)
    assert load_dynamics(rec).epochs.tolist() == [0, 1, 2, 3]


def test_epochs_inferred_from_a_repeated_id_and_given_explicitly(tmp_path):
    z = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]], np.float32)
    rec = TrainingDynamicsRecorder(tmp_path / "a")
    rec.update([0, 1], z[:2], [0, 0])
    rec.update([2], z[2:], [1])
    assert rec.current_epoch == 0
    rec.update([1, 0], z[:2], [0, 0])    # id 1 again: epoch 1 begins
    assert rec.current_epoch == 1 and rec.completed_epochs == [0]
    rec.close()
    d = load_dynamics(tmp_path / "a")
    assert d.epochs.tolist() == [0, 1]
    assert np.isnan(d.p_gold[2, 1]) and d.predicted[2, 1] == -1   # sample 2 not seen in epoch 1
    # p(given) of row 0 in epoch 0: softmax([2, 0])[0]
    assert d.p_gold[0, 0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert d.margin[0, 0] == pytest.approx(2.0) and d.margin[1, 0] == pytest.approx(-2.0)

    rec = TrainingDynamicsRecorder(tmp_path / "b")
    rec.update([0, 1], z[:2], [0, 1], epoch=5)
    with pytest.raises(ValueError, match="appear twice in epoch 5"):
        rec.update([1], z[:1], [1], epoch=5)
    with pytest.raises(ValueError, match="epoch= in every update"):
        rec.update([0], z[:1], [0])
    rec.update([0, 1], z[:2], [0, 1], epoch=6)
    with pytest.raises(ValueError, match="epoch 5 is already recorded"):
        rec.update([2], z[:1], [0], epoch=5)


def test_bad_input_names_the_argument(tmp_path):
    rec = TrainingDynamicsRecorder(tmp_path / "c")
    z = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="same length"):
        rec.update([0, 1, 2], z, [0, 1])
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        rec.update([0, 1], z, [0, 3])
    with pytest.raises(ValueError, match="sample_ids must be non-negative"):
        rec.update([-1, 1], z, [0, 1])
    with pytest.raises(ValueError, match="repeat within one batch"):
        rec.update([1, 1], z, [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        rec.update([0, 1], np.full((2, 3), np.nan), [0, 1])
    with pytest.raises(ValueError, match="shape"):
        rec.update([0, 1], np.zeros(2), [0, 1])
    rec.update([0, 1], z, [0, 1])
    with pytest.raises(ValueError, match="logits have 4 classes"):
        rec.update([2], np.zeros((1, 4)), [0])
    rec.close()
    with pytest.raises(RuntimeError, match="closed"):
        rec.update([0], z[:1], [0])
    with pytest.raises(ValueError, match="num_classes=5"):
        TrainingDynamicsRecorder(tmp_path / "c", num_classes=5)
    with pytest.raises(FileNotFoundError, match="no training-dynamics recording"):
        load_dynamics(tmp_path / "nothing")


def test_callback_without_its_sampler_says_how_to_build_the_loader(digits, tmp_path):
    x, y = digits
    net = _network()
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.SGD(learning_rate=0.1, parameters=net.parameters()), paddle.nn.CrossEntropyLoss())
    cb = TrainingDynamicsCallback(tmp_path / "d", _Digits(x, y), batch_size=32, labels=y)
    with pytest.raises(RuntimeError, match="batch_sampler=callback.batch_sampler"):
        with cb:
            model.fit(paddle.io.DataLoader(_Digits(x, y), batch_size=32), epochs=1, callbacks=[cb], verbose=0)
    assert not net._forward_post_hooks   # the context manager removed the hook after the failure


def test_explain_right_after_fit(tmp_path):
    """The PaddleX habit: train with paddle.Model.fit (recording the dynamics), then one line each for the
    training-data ranking and for a per-image explanation of the same trained model."""
    import paddle.vision.transforms as T
    from sklearn.datasets import load_digits

    from paddlex_interpret import interpret
    from paddlex_interpret.models import as_classifier

    d = load_digits()
    grey = np.kron(d.images[:200] * (255 / 16), np.ones((2, 2)))          # 16x16 real digits
    images = np.clip(np.stack([grey] * 3, axis=-1), 0, 255).astype(np.uint8)
    transform = T.Compose([T.ToTensor(), T.Normalize(mean=[0.5] * 3, std=[0.5] * 3)])

    class Images(paddle.io.Dataset):
        classes = [str(i) for i in range(10)]
        transform = None   # set below: the adapter reads the preprocessing from it

        def __getitem__(self, i):
            return self.transform(images[i]), np.array([d.target[i]], np.int64)

        def __len__(self):
            return len(images)

    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 8, 3, padding=1), paddle.nn.ReLU(), paddle.nn.MaxPool2D(2),
                               paddle.nn.Flatten(), paddle.nn.Linear(8 * 8 * 8, 10))
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.Adam(learning_rate=0.01, parameters=net.parameters()), paddle.nn.CrossEntropyLoss())
    dataset = Images()
    dataset.transform = transform
    cb = TrainingDynamicsCallback(tmp_path / "dyn", dataset, batch_size=50)
    model.fit(paddle.io.DataLoader(dataset, batch_sampler=cb.batch_sampler), epochs=3, callbacks=[cb], verbose=0)

    ranking = interpret.find_label_errors(cb, save_dir=tmp_path / "out", images=images, top_k=4)
    assert ranking.num_samples == 200 and ranking.params["num_epochs"] == 3
    assert (tmp_path / "out" / "training_tidy_suspects.png").is_file()
    exp = interpret.smoothgrad(images[0], as_classifier(model, dataset=dataset), save_dir=tmp_path / "out",
                               n_samples=4, random_state=0)
    assert exp.attribution.shape[-2:] == (16, 16) and np.abs(exp.attribution).sum() > 0
