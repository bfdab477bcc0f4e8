"""Recording data-parallel training: per-rank recordings joined by ``merge_recordings``.

The last test runs a real two-process ``paddle.distributed`` training on CPU (gloo backend,
``paddle.distributed.spawn``) with ``TrainingDynamicsCallback(distributed=True)`` under
``paddle.Model.fit``, and checks the merged recording against a single-process loop that does the
same synchronous steps by hand."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import paddle
import pytest

from paddlex_interpret.engine.training_data import recorder as recorder_module
from paddlex_interpret.engine.training_data import (RecordingBatchSampler, TrainingDynamicsCallback,
                                                    TrainingDynamicsRecorder, load_dynamics, merge_recordings,
                                                    rank_folder)


def _epoch_batches(sampler):
    return [np.asarray(b) for b in sampler]


@pytest.mark.parametrize("num_samples, replicas", [(10, 3), (12, 3), (7, 2), (5, 1)])
def test_sharded_sampler_covers_every_sample_with_equal_steps(num_samples, replicas):
    samplers = [RecordingBatchSampler(num_samples, 2, seed=4, num_replicas=replicas, rank=r) for r in range(replicas)]
    for _ in range(2):  # two epochs: a new common permutation each
        batches = [_epoch_batches(s) for s in samplers]
        assert {len(b) for b in batches} == {len(samplers[0])}  # equal step counts, as len() says
        shards = [np.concatenate(b) for b in batches]
        assert len({len(s) for s in shards}) == 1
        union = np.concatenate(shards)
        assert sorted(set(union.tolist())) == list(range(num_samples))
        assert len(union) == -(-num_samples // replicas) * replicas  # padding only up to a multiple
        for shard in shards:
            assert len(set(shard.tolist())) == len(shard)  # no process sees a sample twice in an epoch
    single = RecordingBatchSampler(num_samples, 2, seed=4)
    assert np.array_equal(np.concatenate(_epoch_batches(single)),
                          np.random.default_rng(4).permutation(num_samples))
    with pytest.raises(ValueError, match=r"rank must be in 0\.\.1"):
        RecordingBatchSampler(4, 2, num_replicas=2, rank=2)


def _toy_logits(ids, epoch):
    rng = np.random.default_rng(1000 * epoch + 7)
    table = rng.normal(size=(100, 3))
    return table[ids]


def test_merge_keeps_one_row_per_sample_and_only_epochs_every_rank_completed(tmp_path):
    labels = np.arange(10) % 3
    base = tmp_path / "dyn"
    samplers = [RecordingBatchSampler(10, 2, seed=0, num_replicas=3, rank=r) for r in range(3)]
    recorders = [TrainingDynamicsRecorder(rank_folder(base, r), chunk_rows=3) for r in range(3)]
    for epoch in range(3):
        for r, (sampler, rec) in enumerate(zip(samplers, recorders)):
            for ids in sampler:
                ids = np.asarray(ids)
                if epoch == 2 and r == 1:
                    break  # rank 1 is interrupted in epoch 2
                rec.update(ids, _toy_logits(ids, epoch), labels[ids], epoch=epoch)
            if not (epoch == 2 and r == 1):
                rec.end_epoch()
    assert [rec.completed_epochs for rec in recorders] == [[0, 1, 2], [0, 1], [0, 1, 2]]
    merged = merge_recordings(base, tmp_path / "merged")
    dyn = merged.dynamics()
    assert dyn.epochs.tolist() == [0, 1]
    np.testing.assert_array_equal(dyn.sample_ids, np.arange(10))
    np.testing.assert_array_equal(dyn.labels, labels)
    assert dyn.seen.all()
    # every row is the one recorded (the padded duplicates had the same logits here)
    reference = TrainingDynamicsRecorder(tmp_path / "reference")
    for epoch in range(2):
        ids = np.arange(10)
        reference.update(ids, _toy_logits(ids, epoch), labels, epoch=epoch)
    reference.close()
    ref = reference.dynamics()
    np.testing.assert_allclose(dyn.p_gold, ref.p_gold)
    np.testing.assert_allclose(dyn.margin, ref.margin)
    np.testing.assert_array_equal(dyn.predicted, ref.predicted)
    # the merged folder is a normal recording and is not overwritten
    assert load_dynamics(tmp_path / "merged").num_epochs == 2
    with pytest.raises(FileExistsError):
        merge_recordings(base, tmp_path / "merged")
    with pytest.raises(FileNotFoundError, match="no rank_"):
        merge_recordings(tmp_path / "reference", tmp_path / "other")
    other = TrainingDynamicsRecorder(tmp_path / "four")
    other.update([0], np.zeros((1, 4)), [1])
    other.close()
    with pytest.raises(ValueError, match="not ranks of one training"):
        merge_recordings([rank_folder(base, 0), tmp_path / "four"], tmp_path / "bad")


def test_callback_distributed_uses_the_rank_folder_and_shard(tmp_path, monkeypatch):
    # Paddle reads PADDLE_TRAINER_ID once per process (its parallel env is cached at the first get_rank(),
    # which another test may already have made), so the rank is given here where the callback asks for it;
    # the real two-process test below reads real ranks from paddle.distributed.
    monkeypatch.setattr(recorder_module, "_distributed_rank", lambda: (1, 2))
    dataset = [(np.zeros(2, np.float32), i % 2) for i in range(9)]
    cb = TrainingDynamicsCallback(tmp_path / "dyn", dataset, batch_size=2, distributed=True)
    assert cb.recorder.folder == tmp_path / "dyn" / "rank_00001"
    assert (cb.batch_sampler.num_replicas, cb.batch_sampler.rank) == (2, 1)
    assert len(np.concatenate(_epoch_batches(cb.batch_sampler))) == 5


_WORKER = textwrap.dedent('''
    import sys
    import numpy as np
    import paddle
    import paddle.distributed as dist

    def data():
        from sklearn.datasets import load_digits
        d = load_digits()
        return (d.data[:200] / 16.0).astype(np.float32), d.target[:200].astype(np.int64)

    def train(folder):
        dist.init_parallel_env()
        from paddlex_interpret.engine.training_data import TrainingDynamicsCallback
        x, y = data()

        class Digits(paddle.io.Dataset):
            def __len__(self):
                return len(y)

            def __getitem__(self, i):
                return x[i], y[i]

        paddle.seed(0)
        net = paddle.nn.Sequential(paddle.nn.Linear(64, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 10))
        model = paddle.Model(net)
        model.prepare(paddle.optimizer.SGD(learning_rate=0.5, parameters=net.parameters()),
                      paddle.nn.CrossEntropyLoss())
        callback = TrainingDynamicsCallback(folder, Digits(), batch_size=16, labels=y, seed=3, distributed=True)
        loader = paddle.io.DataLoader(Digits(), batch_sampler=callback.batch_sampler)
        model.fit(loader, epochs=3, callbacks=[callback], verbose=0)

    if __name__ == "__main__":
        dist.spawn(train, args=(sys.argv[1],), nprocs=2, backend="gloo")
''')


def test_real_two_process_training_merges_to_the_single_process_equivalent(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    base = tmp_path / "dyn"
    run = subprocess.run([sys.executable, str(script), str(base)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in base.iterdir()) == ["rank_00000", "rank_00001"]
    for r in range(2):
        meta = json.loads((base / f"rank_{r:05d}" / "meta.json").read_text())
        assert meta["completed_epochs"] == [0, 1, 2]
    dyn = merge_recordings(base, tmp_path / "merged").dynamics()
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.data[:200] / 16.0).astype(np.float32), d.target[:200].astype(np.int64)
    np.testing.assert_array_equal(dyn.sample_ids, np.arange(200))
    np.testing.assert_array_equal(dyn.labels, y)
    assert dyn.num_epochs == 3 and dyn.seen.all()

    # the same synchronous steps in one process: both ranks' batches through the same weights,
    # the gradient of the mean of the two per-rank mean losses (what DataParallel averages)
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(64, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 10))
    opt = paddle.optimizer.SGD(learning_rate=0.5, parameters=net.parameters())
    samplers = [RecordingBatchSampler(200, 16, seed=3, num_replicas=2, rank=r) for r in range(2)]
    reference = TrainingDynamicsRecorder(tmp_path / "reference")
    for epoch in range(3):
        for batches in zip(*samplers):
            losses = []
            for ids in batches:
                ids = np.asarray(ids)
                out = net(paddle.to_tensor(x[ids]))
                reference.update(ids, out, y[ids], epoch=epoch)
                losses.append(paddle.nn.functional.cross_entropy(out, paddle.to_tensor(y[ids])))
            (sum(losses) / len(losses)).backward()
            opt.step()
            opt.clear_grad()
    reference.close()
    ref = reference.dynamics()
    np.testing.assert_allclose(dyn.p_gold, ref.p_gold, atol=1e-4)
    np.testing.assert_allclose(dyn.margin, ref.margin, atol=1e-3)
    assert np.mean(dyn.predicted == ref.predicted) > 0.99
    # the training learned something: later epochs give the given label more probability
    assert np.nanmean(dyn.p_gold[:, -1]) > np.nanmean(dyn.p_gold[:, 0]) + 0.1
