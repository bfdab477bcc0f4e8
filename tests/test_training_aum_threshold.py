"""AUM's calibrated cut-off with threshold samples (Pleiss et al. 2020): the seeded choice and the
relabelled targets, the cut-off on a recorded toy trajectory (hand computation), and a real run on
digits with injected label noise (an MLP with c + 1 outputs trained on the relabelled targets)."""
import numpy as np
import paddle
import pytest

from paddlex_interpret import cli, interpret
from paddlex_interpret.engine.training_data import (RecordingBatchSampler, ThresholdSamples, TrainingDynamics,
                                                    TrainingDynamicsRecorder, aum, aum_threshold_samples,
                                                    aum_with_threshold, load_dynamics, load_threshold_samples)


# -- choosing the threshold samples -------------------------------------------------------------------
def test_threshold_samples_are_seeded_sized_and_disjoint_over_rounds():
    labels = np.arange(1100) % 10
    first = aum_threshold_samples(labels, 10, random_state=7)
    assert len(first.threshold_ids) == 100  # N / (c + 1)
    assert first.fake_class == 10 and first.num_outputs == 11
    again = aum_threshold_samples(labels, 10, random_state=7)
    np.testing.assert_array_equal(first.threshold_ids, again.threshold_ids)
    other_seed = aum_threshold_samples(labels, 10, random_state=8)
    assert not np.array_equal(first.threshold_ids, other_seed.threshold_ids)
    second = aum_threshold_samples(labels, 10, random_state=7, round=1)
    assert not np.intersect1d(first.threshold_ids, second.threshold_ids).size
    assert first.params == {"fraction": 1 / 11, "random_state": 7, "round": 0, "num_rounds": 11}

    # not the permutation a sampler seeded alike draws: else the threshold samples would fill the first
    # batches of epoch 0 (and teach the network that everything is the fake class)
    first_presented = np.concatenate(list(RecordingBatchSampler(1100, 100, seed=7)))[:100]
    assert np.isin(first_presented, first.threshold_ids).mean() < 0.25

    targets = first.labels
    assert np.all(targets[first.threshold_ids] == 10)
    rest = np.setdiff1d(np.arange(1100), first.threshold_ids)
    np.testing.assert_array_equal(targets[rest], labels[rest])
    batch = np.array([first.threshold_ids[0], rest[0], rest[1]])
    np.testing.assert_array_equal(first.targets(batch), [10, labels[rest[0]], labels[rest[1]]])
    np.testing.assert_array_equal(first.targets(batch, labels=[9, 9, 9]), [10, 9, 9])
    np.testing.assert_array_equal(labels, np.arange(1100) % 10)  # the caller's labels are not changed


def test_threshold_samples_with_own_ids_save_and_load(tmp_path):
    ids = np.array([40, 10, 30, 20, 50, 60])
    ts = aum_threshold_samples([1, 0, 1, 0, 2, 2], sample_ids=ids, fraction=1 / 3, random_state=1, percentile=90)
    np.testing.assert_array_equal(ts.sample_ids, [10, 20, 30, 40, 50, 60])
    np.testing.assert_array_equal(ts.original_labels, [0, 0, 1, 1, 2, 2])
    assert len(ts.threshold_ids) == 2 and set(ts.threshold_ids) <= set(ids)
    path = ts.save(tmp_path / "ts")
    assert path.name == "ts.npz"
    back = load_threshold_samples(path)
    assert isinstance(back, ThresholdSamples)
    np.testing.assert_array_equal(back.threshold_ids, ts.threshold_ids)
    np.testing.assert_array_equal(back.labels, ts.labels)
    assert (back.num_classes, back.percentile, back.params) == (3, 90.0, ts.params)
    with pytest.raises(ValueError, match="not among the training samples"):
        ts.targets([11])


@pytest.mark.parametrize("kwargs, message", [
    ({"fraction": 1.5}, "fraction must be a number in"),
    ({"fraction": 0.01}, "selects no threshold sample"),
    ({"round": 3}, r"round must be in 0\.\.2"),
    ({"percentile": 0}, "percentile must be"),
    ({"num_classes": 2}, r"labels must lie in 0\.\.1"),
    ({"sample_ids": [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]}, "distinct non-negative"),
])
def test_threshold_sample_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        aum_threshold_samples(np.arange(10) % 3, **{"fraction": 0.3, **kwargs})


# -- the cut-off: a hand computation --------------------------------------------------------------------
def test_cut_off_is_the_percentile_of_the_threshold_samples_aum():
    # 8 samples, 2 real classes + the fake class 2; samples 0 and 1 are threshold samples
    ts = ThresholdSamples(np.arange(8), np.array([0, 1, 0, 1, 0, 1, 0, 1]), np.array([0, 1]), 2, percentile=50.0)
    margin = np.array([[-1.0, 0.0],   # threshold sample: AUM -0.5
                       [0.0, 1.0],    # threshold sample: AUM 0.5   -> cut-off = median = 0.0
                       [2.0, 2.0],    # 2.0
                       [-3.0, -1.0],  # -2.0  flagged
                       [0.0, 0.0],    # 0.0   flagged (at the cut-off)
                       [1.0, 0.5],    # 0.75
                       [-0.5, 0.3],   # -0.1  flagged
                       [4.0, 2.0]])   # 3.0
    predicted = np.where(margin > 0, ts.labels[:, None], (ts.labels[:, None] + 1) % 3)
    dyn = TrainingDynamics(np.arange(8), ts.labels, np.arange(2), np.full((8, 2), 0.5), margin, predicted, 3)
    result = aum_with_threshold(dyn, ts)
    assert result.params["threshold"] == 0.0
    np.testing.assert_array_equal(result.sample_ids, [2, 3, 4, 5, 6, 7])  # threshold samples left out
    np.testing.assert_allclose(result.score_of("aum"), [2.0, -2.0, 0.0, 0.75, -0.1, 3.0])
    np.testing.assert_array_equal(result.flagged(), [3, 6, 4])  # most suspicious first
    assert result.params["num_flagged"] == 3 and result.params["num_threshold_samples"] == 2
    # the plain AUM of the same dynamics agrees on the judged samples
    np.testing.assert_allclose(aum(dyn).score_of("aum")[2:], result.score_of("aum"))
    with pytest.raises(ValueError, match="no cut-off"):
        aum(dyn).flagged()

    wrong_labels = TrainingDynamics(np.arange(8), ts.original_labels, np.arange(2), np.full((8, 2), 0.5), margin,
                                    predicted, 3)
    with pytest.raises(ValueError, match="record the relabelled targets"):
        aum_with_threshold(wrong_labels, ts)
    two_classes = TrainingDynamics(np.arange(8), ts.original_labels, np.arange(2), np.full((8, 2), 0.5), margin,
                                   predicted % 2, 2)
    with pytest.raises(ValueError, match="records 3"):
        aum_with_threshold(two_classes, ts)
    with pytest.raises(ValueError, match="use method='aum'"):
        interpret.find_label_errors(dyn, method="tidy", threshold_samples=ts)


# -- real data: digits with 20% injected label noise ---------------------------------------------------------
# Measured (seed 0, 8 epochs, MLP 64-64-11, 163 threshold samples): cut-off -0.599, 341 of 1634 judged
# samples flagged, precision 0.924 and recall 0.969 against the 325 true flips among them; AUROC 0.998.
PRECISION_THRESHOLD = 0.8   # a random flagged set has the noise rate, ~0.2
RECALL_THRESHOLD = 0.9


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    flip = rng.random(len(d.target)) < 0.2
    given = d.target.copy()
    given[flip] = (d.target[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    ts = aum_threshold_samples(given, 10, random_state=0)
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(64, 64), paddle.nn.ReLU(), paddle.nn.Linear(64, ts.num_outputs))
    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=net.parameters())
    folder = tmp_path_factory.mktemp("aum_threshold_digits")
    sampler = RecordingBatchSampler(len(given), 32, seed=0)
    with TrainingDynamicsRecorder(folder) as rec:
        for _ in range(8):
            for ids in sampler:
                ids = np.asarray(ids)
                targets = ts.targets(ids, given[ids])
                out = net(paddle.to_tensor(x[ids]))
                rec.update(ids, out, targets)
                loss = paddle.nn.functional.cross_entropy(out, paddle.to_tensor(targets))
                loss.backward()
                opt.step()
                opt.clear_grad()
    return folder, ts, flip, given


def test_flagged_set_finds_the_injected_flips_on_digits(digits_run, tmp_path):
    folder, ts, flip, given = digits_run
    result = interpret.find_label_errors(folder, method="aum", threshold_samples=ts, save_dir=tmp_path)
    assert result.num_samples == len(flip) - len(ts.threshold_ids)
    np.testing.assert_array_equal(result.given_labels, given[result.sample_ids])  # judged by their given labels
    truth = flip[result.sample_ids]
    flagged = np.isin(result.sample_ids, result.flagged())
    precision = (flagged & truth).sum() / flagged.sum()
    recall = (flagged & truth).sum() / truth.sum()
    print(f"AUM threshold {result.params['threshold']:.4f}: {flagged.sum()} flagged, precision {precision:.3f}, "
          f"recall {recall:.3f}")
    assert precision >= PRECISION_THRESHOLD and recall >= RECALL_THRESHOLD, (precision, recall)
    # the threshold samples (mislabelled by construction) have a low AUM: the cut-off is below what clean
    # samples reach, so most clean samples are not flagged
    assert (~flagged[~truth]).mean() >= 0.95
    # a shuffled flip mask is not found by the same flagged set
    shuffled = np.random.default_rng(1).permutation(truth)
    assert (flagged & shuffled).sum() / flagged.sum() < 0.35
    # the saved table and result carry the flags
    assert result.csv_path and "flagged" in open(result.csv_path, encoding="utf-8").readline()
    back = type(result).load(tmp_path / "training_aum.npz")
    np.testing.assert_array_equal(back.flagged(), result.flagged())


def test_cli_takes_a_saved_threshold_samples_file(digits_run, tmp_path, capsys):
    folder, ts, _, _ = digits_run
    ts_file = ts.save(tmp_path / "threshold_samples.npz")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"digit {k}" for k in range(10)) + "\n", encoding="utf-8")
    code = cli.main(["training-data", str(folder), "--method", "aum", "--threshold-samples", str(ts_file),
                     "--labels", str(labels), "--save-dir", str(tmp_path / "out"), "--top-k", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    expected = aum_with_threshold(folder, ts)
    assert f"{expected.params['num_flagged']} of {expected.num_samples} samples flagged" in out
    assert (tmp_path / "out" / "training_aum.csv").is_file()
    assert load_dynamics(folder).num_classes == 11
