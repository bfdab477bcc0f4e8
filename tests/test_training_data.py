"""Training-data methods: known answers (forgetting counts, data-map statistics, AUM), finding injected
label noise on real digits, the BHDF detector file, TIDY's rule, the result files, SGD noise."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddlex_interpret.engine.training_data import (METHODS, BHDFDetector, RecordingBatchSampler, TrainingDataResult,
                                                    TrainingDynamics, TrainingDynamicsRecorder, aum, bhdf,
                                                    count_forgetting_events, data_map, forgetting_events,
                                                    load_dynamics, sgd_noise, tidy)
from paddlex_interpret.engine.training_data.bhdf import DEFAULT_WEIGHTS, lstm_logits, trajectory_features
from paddlex_interpret.engine.training_data.tidy import percentile_rank

ROOT = Path(__file__).resolve().parents[1]


def _logits_for(p):
    """Two-class logits whose softmax gives p(class 0) = p exactly."""
    p = np.asarray(p, np.float64)
    return np.stack([np.log(p), np.log(1 - p)], axis=1)


@pytest.fixture()
def toy_recording(tmp_path):
    """Four samples, label 0, over six epochs (p(given label) per epoch):
    0: 0.9 0.2 0.8 0.3 0.7 0.1  correct/wrong alternate, starting correct -> 3 forgetting events
    1: 0.2 0.9 0.1 0.8 0.3 0.6  alternate starting wrong -> 2 events
    2: 0.1 0.2 0.3 0.2 0.4 0.45 never correct -> never learned (-1)
    3: 0.6 0.7 0.8 0.9 0.95 0.99 learned, never forgotten -> 0 events
    """
    p = np.array([[0.9, 0.2, 0.8, 0.3, 0.7, 0.1],
                  [0.2, 0.9, 0.1, 0.8, 0.3, 0.6],
                  [0.1, 0.2, 0.3, 0.2, 0.4, 0.45],
                  [0.6, 0.7, 0.8, 0.9, 0.95, 0.99]])
    with TrainingDynamicsRecorder(tmp_path / "toy") as rec:
        for e in range(6):
            order = [3, 1, 0, 2] if e % 2 else [0, 1, 2, 3]   # presentation order changes, the record does not
            for ids in (order[:2], order[2:]):
                rec.update(ids, _logits_for(p[ids, e]), [0, 0])
    return tmp_path / "toy", p


def test_forgetting_counts_and_never_learned(toy_recording):
    folder, p = toy_recording
    r = forgetting_events(folder)
    np.testing.assert_array_equal(r.scores["forgetting_events"], [3, 2, -1, 0])
    np.testing.assert_array_equal(r.scores["never_learned"], [0, 0, 1, 0])
    np.testing.assert_array_equal(r.scores["first_learned_epoch"], [0, 1, -1, 0])
    assert r.top(1).tolist() == [2]                    # never learned ranks first
    assert r.ranking().tolist() == [2, 0, 1, 3]
    # the documented formula: events = correct -> wrong transitions between consecutive presentations
    events, _ = count_forgetting_events([[1, 0, 1, 0, 1, 0, 1, 0]])
    assert events.tolist() == [4]
    # epochs a sample was not presented in are skipped, not counted as wrong
    events, _ = count_forgetting_events([[1, 0, 1, 1]], seen=[[1, 0, 1, 1]])
    assert events.tolist() == [0]


def test_data_map_equals_a_hand_computation(toy_recording):
    folder, p = toy_recording
    r = data_map(folder)
    for i in range(4):
        conf = sum(p[i]) / 6
        var = (sum((v - conf) ** 2 for v in p[i]) / 6) ** 0.5
        corr = sum(v > 0.5 for v in p[i]) / 6
        assert r.scores["confidence"][i] == pytest.approx(conf, abs=1e-12)
        assert r.scores["variability"][i] == pytest.approx(var, abs=1e-12)
        assert r.scores["correctness"][i] == pytest.approx(corr, abs=1e-12)
    np.testing.assert_allclose(r.suspicion, 1 - r.scores["confidence"])
    # the first three epochs only
    r3 = data_map(folder, epochs=3)
    assert r3.scores["confidence"][0] == pytest.approx((0.9 + 0.2 + 0.8) / 3)
    assert r3.params["epochs"] == [0, 1, 2]


def test_aum_equals_the_mean_margin(toy_recording):
    folder, p = toy_recording
    r = aum(folder)
    margins = np.log(p) - np.log(1 - p)    # two classes: given logit - the other logit
    np.testing.assert_allclose(r.scores["aum"], margins.mean(axis=1), atol=1e-9)
    np.testing.assert_allclose(r.scores["last_margin"], margins[:, -1], atol=1e-9)
    assert r.top(1).tolist() == [2]
    with pytest.raises(ValueError, match="no margins"):
        aum(TrainingDynamics.from_arrays(p, np.zeros(4, int)))


def test_tidy_is_the_documented_weighted_mean_of_percentile_ranks(toy_recording):
    folder, _ = toy_recording
    r = tidy(folder)
    parts = {"confidence": data_map(folder).suspicion, "aum": aum(folder).suspicion,
             "forgetting": forgetting_events(folder).suspicion, "bhdf": bhdf(folder).suspicion}
    w = {"confidence": 1.0, "aum": 1.0, "forgetting": 0.5, "bhdf": 1.0}
    expected = sum(w[k] * percentile_rank(v) for k, v in parts.items()) / sum(w.values())
    np.testing.assert_allclose(r.suspicion, expected)
    assert r.params["weights"] == w
    only = tidy(folder, weights={"confidence": 1.0})
    np.testing.assert_allclose(only.suspicion, percentile_rank(parts["confidence"]))
    np.testing.assert_allclose(percentile_rank([3.0, 1.0, 1.0, 2.0]), [1.0, 1 / 6, 1 / 6, 2 / 3])
    with pytest.raises(ValueError, match="unknown TIDY signals"):
        tidy(folder, weights={"loss": 1.0})
    with pytest.raises(ValueError, match="not all 0"):
        tidy(folder, weights={"aum": 0.0})


# -- real data ----------------------------------------------------------------------------------------
NOISE_AUROC_THRESHOLD = 0.9   # measured ~0.99 for data_map / aum / tidy with the settings below


@pytest.fixture(scope="module")
def noisy_digits(tmp_path_factory):
    """All 1797 sklearn digits, 20% symmetric label noise (seed 0), an MLP trained 8 epochs on the noisy
    labels, dynamics recorded from the training minibatches."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    flip = rng.random(len(d.target)) < 0.2
    given = d.target.copy()
    given[flip] = (d.target[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(64, 64), paddle.nn.ReLU(), paddle.nn.Linear(64, 10))
    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=net.parameters())
    folder = tmp_path_factory.mktemp("noisy_digits")
    sampler = RecordingBatchSampler(len(given), 32, seed=0)
    with TrainingDynamicsRecorder(folder) as rec:
        for _ in range(8):
            for ids in sampler:
                ids = np.asarray(ids)
                out = net(paddle.to_tensor(x[ids]))
                rec.update(ids, out, given[ids])
                loss = paddle.nn.functional.cross_entropy(out, paddle.to_tensor(given[ids]))
                loss.backward()
                opt.step()
                opt.clear_grad()
    return load_dynamics(folder), flip, d.images


def test_methods_find_injected_label_noise_on_digits(noisy_digits):
    from sklearn.metrics import roc_auc_score

    dyn, flip, _ = noisy_digits
    auroc = {name: roc_auc_score(flip, method(dyn).suspicion) for name, method in METHODS.items()}
    print("AUROC on noisy digits:", {k: round(v, 4) for k, v in auroc.items()})
    assert max(auroc.values()) > NOISE_AUROC_THRESHOLD, auroc
    assert auroc["tidy"] > NOISE_AUROC_THRESHOLD, auroc
    # every method is far better than a random ranking (AUROC 0.5)
    assert min(auroc.values()) > 0.75, auroc
    # a shuffled flip mask is not found: the scores carry the information, not the evaluation
    shuffled = np.random.default_rng(1).permutation(flip)
    assert abs(roc_auc_score(shuffled, METHODS["tidy"](dyn).suspicion) - 0.5) < 0.06


def test_figures_and_html_of_the_suspects(noisy_digits, tmp_path):
    from paddlex_interpret.vis.cartography import save_cartography_figure
    from paddlex_interpret.vis.suspects import save_suspects_figure, save_suspects_html, suspects_html

    dyn, flip, images = noisy_digits
    r = tidy(dyn, label_names=[f"digit {i}" for i in range(10)])
    path = save_cartography_figure(r, tmp_path / "map.png", highlight=dyn.sample_ids[flip])
    assert path.stat().st_size > 10000
    path = save_suspects_figure(r, images, tmp_path / "suspects.png", k=8)
    assert path.stat().st_size > 5000
    texts = {int(i): f"<script>alert({int(i)})</script> & text" for i in dyn.sample_ids}
    page = suspects_html(r, texts, k=5, label_names=["<b>bad</b>"] + [str(i) for i in range(1, 10)])
    assert "<script" not in page and "&lt;script&gt;alert(" in page and "&amp; text" in page
    assert "<b>bad</b>" not in page
    assert page.count("<li>") == 5
    save_suspects_html(r, texts, tmp_path / "s.html", k=3)
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(ValueError, match="confidence"):
        save_cartography_figure(aum(dyn), tmp_path / "x.png")


# -- BHDF --------------------------------------------------------------------------------------------
def _build_script():
    spec = importlib.util.spec_from_file_location("train_bhdf_detector", ROOT / "benchmarks" / "train_bhdf_detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_bhdf_weights_load_without_pickle_and_record_the_script_defaults():
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as data:     # would raise on an object array
        assert all(data[k].dtype != object for k in data.files)
        meta = json.loads(str(data["meta"]))
    script = _build_script()
    assert meta["kind"] == "bhdf_detector" and meta["build"] == script.DEFAULTS
    assert DEFAULT_WEIGHTS.stat().st_size < 50_000
    detector = BHDFDetector()
    assert detector.seq_len == script.DEFAULTS["seq_len"]
    # known direction: a trajectory that rises to 1 early is clean, one that stays low is noisy
    p = np.array([np.linspace(0.3, 1.0, 10), np.full(10, 0.05)])
    prob = detector.predict_proba(p)
    assert prob[1] > 0.5 > prob[0]


def test_bhdf_build_is_deterministic_and_matches_the_numpy_detector(tmp_path):
    script = _build_script()
    settings = dict(script.DEFAULTS, tasks=1, lstm_steps=3, lstm_batch=64)
    a, meta_a = script.build(**settings)
    b, meta_b = script.build(**settings)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert meta_a == meta_b and meta_a["build"] == settings
    path = script.write(tmp_path / "det.npz", a, meta_a)
    det = BHDFDetector(path)
    p = np.random.default_rng(0).random((5, 7))
    expected = lstm_logits(trajectory_features(p, seq_len=settings["seq_len"]),
                           **{k: v.astype(np.float32).astype(np.float64) for k, v in a.items()})
    np.testing.assert_allclose(det.predict_logits(p), expected, rtol=1e-12)
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(2))
    with pytest.raises(ValueError, match="not a BHDF detector file"):
        BHDFDetector(bad)


def test_trajectory_resampling():
    p = np.array([[0.0, 1.0], [0.2, np.nan]])
    f = trajectory_features(p, seq_len=3)[:, :, 0]
    np.testing.assert_allclose(f[0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(f[1], [0.2, 0.2, 0.2])   # one seen epoch is repeated


# -- result files ------------------------------------------------------------------------------------
def test_result_save_load_and_csv(toy_recording, tmp_path):
    folder, _ = toy_recording
    r = tidy(folder, label_names=["=cmd|' /C calc'!A0", 'say "hi", ok'])
    path = r.save(tmp_path / "r")
    back = TrainingDataResult.load(path)
    np.testing.assert_array_equal(back.suspicion, r.suspicion)
    assert back.scores.keys() == r.scores.keys() and back.label_names == r.label_names and back.params == r.params
    csv_path = r.to_csv(tmp_path / "table")
    import csv

    rows = list(csv.DictReader(open(csv_path, encoding="utf-8")))
    assert [int(row["sample_id"]) for row in rows] == r.top(4).tolist()
    assert [int(row["rank"]) for row in rows] == [1, 2, 3, 4]
    assert rows[0]["given_name"] == "'=cmd|' /C calc'!A0"      # a formula is defused
    assert float(rows[0]["suspicion"]) == pytest.approx(r.suspicion.max())
    assert set(r.scores) <= set(rows[0])
    raw = csv_path.read_text(encoding="utf-8")
    assert '"say ""hi"", ok"' in raw        # sample 2 is predicted as class 1: its name is quoted by the csv module
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(ValueError, match="label_names has 3 names"):
        data_map(folder, label_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="not a training-data one"):
        np.savez(tmp_path / "other.npz", meta=np.array(json.dumps({"kind": "pixel"})))
        TrainingDataResult.load(tmp_path / "other.npz")


def test_csv_write_is_atomic(toy_recording, tmp_path, monkeypatch):
    folder, _ = toy_recording
    r = data_map(folder)
    target = tmp_path / "t.csv"
    target.write_text("old", encoding="utf-8")
    import pathlib

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", boom)
    with pytest.raises(OSError, match="disk full"):
        r.to_csv(target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old" and not list(tmp_path.glob(".*tmp*"))


# -- SGD noise ---------------------------------------------------------------------------------------
def test_sgd_noise_regimes(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target
    paddle.seed(3)
    net = paddle.nn.Sequential(paddle.nn.Linear(64, 32), paddle.nn.ReLU(), paddle.nn.Linear(32, 10))
    net.eval()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    r = sgd_noise(net, x[:300], y[:300], x[300:600], y[300:600], steps=30, learning_rate=0.2, batch_size=16,
                  eval_every=10, random_state=0, progress=False)
    assert not net.training and all(not s.training for s in net.sublayers())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert r.steps.tolist() == [0, 10, 20, 30]
    for regime in ("gd", "sgd", "masked_gd"):
        c = r.curves[regime]
        assert c["train_loss"][0] == pytest.approx(r.curves["gd"]["train_loss"][0])   # same start
        assert c["train_loss"][-1] < c["train_loss"][0]
    assert np.all(r.curves["gd"]["gradient_noise"] == 0)
    assert np.all(r.curves["sgd"]["gradient_noise"][1:] > 0.1)
    assert np.all(r.curves["masked_gd"]["gradient_noise"][1:] > 0.1)
    again = sgd_noise(net, x[:300], y[:300], x[300:600], y[300:600], steps=30, learning_rate=0.2, batch_size=16,
                      eval_every=10, random_state=0, progress=False)
    np.testing.assert_array_equal(again.curves["sgd"]["train_loss"], r.curves["sgd"]["train_loss"])
    # known answer: a minibatch of all samples is full-batch GD
    full = sgd_noise(net, x[:100], y[:100], steps=5, learning_rate=0.2, batch_size=100, regimes=("gd", "sgd"),
                     eval_every=5, progress=False)
    np.testing.assert_allclose(full.curves["sgd"]["train_loss"], full.curves["gd"]["train_loss"], rtol=1e-5)
    back = type(r).load(r.save(tmp_path / "noise"))
    np.testing.assert_array_equal(back.curves["masked_gd"]["test_accuracy"], r.curves["masked_gd"]["test_accuracy"])
    with pytest.raises(ValueError, match="regimes"):
        sgd_noise(net, x[:10], y[:10], regimes=("adam",), progress=False)
    with pytest.raises(ValueError, match="batch_size=50 exceeds"):
        sgd_noise(net, x[:10], y[:10], batch_size=50, progress=False)


# -- task API and command line -----------------------------------------------------------------------
def test_free_functions_and_cli_write_their_files(toy_recording, tmp_path, capsys):
    from paddlex_interpret import interpret
    from paddlex_interpret.cli import main

    folder, _ = toy_recording
    r = interpret.find_label_errors(folder, method="forgetting", save_dir=tmp_path / "out",
                                    texts=["a <b>", "b", "c & d", "e"], top_k=2)
    assert Path(r.csv_path).is_file() and r.figure_path.endswith("training_forgetting_suspects.html")
    page = Path(r.figure_path).read_text(encoding="utf-8")
    assert "c &amp; d" in page and page.count("<li>") == 2          # sample 2 (never learned) is listed
    assert TrainingDataResult.load(tmp_path / "out" / "training_forgetting.npz").method == "forgetting"
    m = interpret.data_map(folder, save_dir=tmp_path / "out", name="toy")
    assert Path(m.figure_path).name == "toy_data_map.png" and Path(m.csv_path).is_file()
    with pytest.raises(ValueError, match="method must be one of"):
        interpret.find_label_errors(folder, method="loss")
    with pytest.raises(ValueError, match="name must be"):
        interpret.data_map(folder, save_dir=tmp_path / "x", name="../up")
    assert not (tmp_path / "x").exists()

    assert main(["training-data", str(folder), "--method", "aum", "--save-dir", str(tmp_path / "cli"),
                 "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "sample 2:" in out.splitlines()[1]                     # the most suspicious first
    assert (tmp_path / "cli" / "training_aum.csv").is_file() and (tmp_path / "cli" / "training_data_map.png").is_file()
    assert main(["training-data", str(tmp_path / "none"), "--save-dir", str(tmp_path / "cli")]) == 1
