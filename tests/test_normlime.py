"""NormLIME: dataset iteration, global weights (PaddleX and lime_average), NormLime, its figure.

A fake prior asset folder is built here: random stem parameters in Paddle's legacy format and a
real scikit-learn KMeans (8 clusters) fitted on the stem's grid-cell features of the test photos,
pickled as PaddleX did. No network is needed.
"""
import pickle
from pathlib import Path

import numpy as np
import paddle
import pytest
from PIL import Image

from paddlex_interpret.data import ImagePreprocess
from paddlex_interpret.data.datasets import dataset_size, iter_dataset_images
from paddlex_interpret.engine.lime.glime import GLime
from paddlex_interpret.engine.lime.global_weights import GlobalWeights
from paddlex_interpret.engine.lime.normlime import NormLime, NormLimeResult, normlime_prior
from paddlex_interpret.engine.lime.normlime_dataset import compute_global_weights
from paddlex_interpret.priors.features import grid_segments, load_prior
from paddlex_interpret.models import PaddleLayerClassifier
from paddlex_interpret.priors.download import KMEANS_FILE, PARAM_SHAPES
from paddlex_interpret.priors.legacy_tensor import write_lod_tensor

N_CLUSTERS = 8
FAST_LIME = {"num_samples": 24, "batch_size": 24, "progress": False, "random_state": 0}


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def photos():
    """Seven real photos (uint8 RGB, various sizes)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    out = {name: getattr(skimage.data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")}
    try:
        out["motorcycle"] = skimage.data.stereo_motorcycle()[0]
    except Exception:  # pragma: no cover - not bundled with every scikit-image
        out["motorcycle"] = skimage.data.camera()
    out.update(zip(("china", "flower"), load_sample_images().images))
    return out


@pytest.fixture(scope="module")
def assets_dir(tmp_path_factory, photos):
    """A prior asset folder: random stem parameters + a real KMeans on the stem's features."""
    import cv2
    from sklearn.cluster import KMeans

    from paddlex_interpret.priors.stem import PriorStem, superpixel_features

    folder = tmp_path_factory.mktemp("prior") / "pre_models"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, shape in PARAM_SHAPES.items():
        value = rng.normal(0, 0.2, size=shape).astype(np.float32)
        if name.endswith("_variance"):
            value = np.abs(value) + 0.5
        write_lod_tensor(folder / name, value)
    stem = PriorStem.from_assets(folder)
    feats = []
    for image in photos.values():
        small = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
        feats.append(superpixel_features(stem.feature_map(small), grid_segments((224, 224), 5)))
    km = KMeans(n_clusters=N_CLUSTERS, n_init=2, random_state=0).fit(np.concatenate(feats))
    (folder / KMEANS_FILE).write_bytes(pickle.dumps(km))
    return folder


@pytest.fixture(scope="module")
def prior(assets_dir):
    return load_prior(assets_dir)


class ColourNet(paddle.nn.Layer):
    """Logits = gain * (mean RGB @ W + b): the predicted class follows the photo's colours."""

    def __init__(self, W, b, gain=20.0):
        super().__init__()
        self.W = paddle.to_tensor(np.asarray(W, dtype=np.float32))
        self.b = paddle.to_tensor(np.asarray(b, dtype=np.float32))
        self.gain = gain

    def forward(self, x):
        return self.gain * (paddle.matmul(x.mean(axis=[2, 3]), self.W) + self.b)


def colour_classifier(W, b, labels, size=64):
    pre = ImagePreprocess(resize_short=size + size // 4, crop_size=size, mean=(0, 0, 0), std=(1, 1, 1))
    return PaddleLayerClassifier(ColourNet(W, b), preprocess=pre, labels=labels, output="logits")


@pytest.fixture(scope="module")
def four_class():
    """warm (R > B), blue (B > R), green (G above R and B), never (always -inf-ish)."""
    W = [[1, -1, -1, 0], [0, 0, 2, 0], [-1, 1, -1, 0]]
    return colour_classifier(W, [-0.1, 0, 0, -10], ["warm", "blue", "green", "never"])


@pytest.fixture(scope="module")
def binary():
    return colour_classifier([[1, -1], [0, 0], [-1, 1]], [-0.05, 0], ["warm", "cool"])


@pytest.fixture(scope="module")
def global_weights(four_class, photos, prior):
    return compute_global_weights(four_class, list(photos.values()), prior=prior, progress=False)


# --- datasets ------------------------------------------------------------------------------------

def test_iter_dataset_images_all_forms(tmp_path, photos):
    from PIL import Image

    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    small = {k: v[:40, :50] for k, v in list(photos.items())[:3]}
    for name, im in small.items():
        Image.fromarray(im).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    names = sorted(small)

    got = list(iter_dataset_images(folder))
    assert [n for n, _ in got] == names and dataset_size(folder) == 3
    assert all(im.dtype == np.uint8 and im.shape == (40, 50, 3) for _, im in got)
    np.testing.assert_array_equal(dict(got)["chelsea"], small["chelsea"])

    lst = tmp_path / "train_list.txt"
    lst.write_text(f"imgs/chelsea.png 0\n\n{folder / 'coffee.png'} 1\n# comment\n")
    got = list(iter_dataset_images(lst))
    assert [n for n, _ in got] == ["chelsea", "coffee"] and dataset_size(lst) == 2

    bad = tmp_path / "bad_list.txt"
    bad.write_text("imgs/chelsea.png 0\nimgs/missing.png 1\n")
    with pytest.raises(FileNotFoundError, match="line 2"):
        list(iter_dataset_images(bad))
    with pytest.raises(FileNotFoundError, match="not found"):
        list(iter_dataset_images(tmp_path / "nope.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        list(iter_dataset_images(tmp_path / "empty"))

    mixed = [folder / "astronaut.png", small["coffee"]]
    got = list(iter_dataset_images(mixed))
    assert [n for n, _ in got] == ["astronaut", "item1"] and dataset_size(mixed) == 2

    class DS(paddle.io.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            im = small[names[i]]
            return (im.transpose(2, 0, 1).astype("float32") / 255.0, i) if i else (str(folder / "china.png"), 0)

    (Image.fromarray(photos["china"][:30, :30])).save(folder / "china.png")
    got = list(iter_dataset_images(DS()))
    assert dataset_size(DS()) == 2 and got[0][0] == "china" and got[0][1].shape == (30, 30, 3)
    assert got[1][1].shape == (40, 50, 3)


# --- global weights ------------------------------------------------------------------------------

def test_paddlex_global_weights(global_weights, four_class, photos):
    gw = global_weights
    assert gw.algorithm == "paddlex" and gw.weights.shape == (4, N_CLUSTERS)
    assert gw.num_images == len(photos) and gw.class_counts.sum() == len(photos)
    assert (gw.weights >= 0).all()
    np.testing.assert_allclose(gw.weights.sum(axis=1), 1.0)
    predicted = np.flatnonzero(gw.class_counts)
    assert len(predicted) >= 2 and gw.class_counts[3] == 0
    np.testing.assert_allclose(gw.weights[3], 1.0 / N_CLUSTERS)  # never predicted -> uniform
    for c in predicted:  # a learned distribution, not the uniform one
        assert not np.allclose(gw.weights[c], 1.0 / N_CLUSTERS)
    assert gw.label_names == ["warm", "blue", "green", "never"]


def test_one_predicted_class_gives_uniform_weights(photos, prior):
    always0 = colour_classifier(np.zeros((3, 3)), [5, 0, 0], ["a", "b", "c"])
    gw = compute_global_weights(always0, list(photos.values())[:3], prior=prior, progress=False)
    assert gw.class_counts.tolist() == [3, 0, 0]
    np.testing.assert_allclose(gw.weights, 1.0 / N_CLUSTERS)


def test_binary_global_weights(binary, photos, prior, assets_dir):
    gw = compute_global_weights(binary, list(photos.values()), assets_dir=assets_dir, progress=False)
    assert gw.weights.shape == (2, N_CLUSTERS) and (gw.class_counts > 0).all()
    np.testing.assert_allclose(gw.weights.sum(axis=1), 1.0)
    # +coef for class 1, -coef for class 0: opposite preferences
    assert np.argmax(gw.weights[0]) != np.argmax(gw.weights[1])
    assert np.argmax(gw.weights[0]) == np.argmin(gw.weights[1])


def test_save_load_and_stale_detection(global_weights, four_class, binary, prior, tmp_path):
    _, centres = prior
    path = global_weights.save(tmp_path / "w")
    assert path.name == "w.npz" and not list(tmp_path.glob(".w*"))  # atomic, no leftovers
    back = GlobalWeights.load(path)
    np.testing.assert_array_equal(back.weights, global_weights.weights)
    assert back.label_names == global_weights.label_names and back.algorithm == "paddlex"
    assert back.centres_sha256 == global_weights.centres_sha256
    np.testing.assert_array_equal(back.class_counts, global_weights.class_counts)

    assert back.matches(four_class, centres)
    assert not back.matches(binary, centres)  # other number of classes
    renamed = colour_classifier(np.zeros((3, 4)), [0, 0, 0, 0], ["w", "b", "g", "n"])
    assert not back.matches(renamed, centres)  # other label names
    assert not back.matches(four_class, centres + 1e-3)  # other prior centres
    assert not back.matches(four_class, centres[:-1])
    with pytest.raises(ValueError, match="stale"):
        NormLime(four_class, back, prior=(prior[0], centres + 1e-3))


def test_corrupt_weights_files(global_weights, tmp_path):
    path = global_weights.save(tmp_path / "w.npz")
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    np.savez(tmp_path / "foreign.npz", weights=np.ones((2, 2)))
    for name in ("trunc.npz", "junk.npz", "foreign.npz"):
        with pytest.raises(ValueError, match="NormLIME weights file"):
            GlobalWeights.load(tmp_path / name)
    bad = GlobalWeights(**{**global_weights.__dict__, "weights": global_weights.weights * 2})
    bad.save(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="sum to 1"):
        GlobalWeights.load(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError):
        GlobalWeights.load(tmp_path / "missing.npz")


def test_lime_average_global_weights(four_class, photos, prior):
    gw = compute_global_weights(four_class, list(photos.values())[:4], prior=prior, progress=False,
                                algorithm="lime_average", lime_params={"num_samples": 16, "batch_size": 16})
    assert gw.algorithm == "lime_average" and gw.weights.shape == (4, N_CLUSTERS)
    assert (gw.weights >= 0).all()
    np.testing.assert_allclose(gw.weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(gw.weights[3], 1.0 / N_CLUSTERS)
    with pytest.raises(ValueError, match="algorithm"):
        compute_global_weights(four_class, [], prior=prior, algorithm="nope")


# --- explaining ------------------------------------------------------------------------------------

def test_normlime_explain_and_figure(global_weights, four_class, photos, prior, tmp_path):
    from paddlex_interpret.vis.normlime_figure import normlime_figure, save_normlime_figure

    image = four_class.image_as_explained(photos["chelsea"])
    result = NormLime(four_class, global_weights, prior=prior, **FAST_LIME).explain(image)
    assert isinstance(result, NormLimeResult)
    parts = (result.lime, result.normlime, result.combined)
    assert [p.method for p in parts] == ["lime", "normlime", "normlime_combined"]
    t = result.target
    assert t == 0 and all(p.targets == [t] for p in parts)
    assert all(p.image is result.image and p.segments is result.segments for p in parts)
    n = result.lime.num_superpixels
    clusters = np.asarray(result.normlime.params["clusters"])
    assert clusters.shape == (n,) and clusters.max() < N_CLUSTERS
    np.testing.assert_allclose(result.normlime.weights[t], global_weights.weights[t][clusters])
    np.testing.assert_allclose(result.combined.weights[t], result.lime.weights[t] * result.normlime.weights[t])

    # the GLIME prior gives the same per-superpixel weights
    prior_fn = normlime_prior(global_weights, *prior)
    np.testing.assert_allclose(prior_fn(result.image, result.segments, t), result.normlime.weights[t])
    g = GLime(four_class, prior=prior_fn, **FAST_LIME).explain(image)
    assert g.weights[g.target].shape == (n,)

    fig = normlime_figure(result)
    axes = fig.axes
    assert len(axes) == 20 and tuple(fig.get_size_inches()) == (25, 20)
    grid = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in axes}
    assert set(grid) == {(r, c) for r in range(4) for c in range(5)}
    assert grid[(0, 0)].get_title().startswith("label warm, proba: ")
    assert "segmentation" in grid[(0, 1)].get_title()
    assert all(not grid[(0, c)].get_title() for c in (2, 3, 4))
    for r, prefix in ((1, "LIME: first "), (2, "NormLIME: first "), (3, "Combined: first ")):
        assert all(grid[(r, c)].get_title().startswith(prefix) for c in range(5))
        assert all(grid[(r, c)].get_title().endswith(" superpixels") for c in range(5))
    out = save_normlime_figure(result, tmp_path / "fig.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    saved = result.save(tmp_path / "res")
    back = NormLimeResult.load(tmp_path / "res")
    assert sorted(saved) == ["combined", "lime", "normlime"]
    np.testing.assert_allclose(back.combined.weights[t], result.combined.weights[t])


def test_normlime_binary_and_224_geometry(binary, photos, prior):
    clf224 = colour_classifier([[1, -1], [0, 0], [-1, 1]], [-0.05, 0], ["warm", "cool"], size=224)
    gw = compute_global_weights(clf224, [photos["rocket"], photos["coffee"], photos["flower"]], prior=prior,
                                progress=False)
    image = clf224.image_as_explained(photos["rocket"])
    result = NormLime(clf224, gw, prior=prior, num_samples=12, batch_size=12, progress=False,
                      random_state=0).explain(image, targets=[0, 1])
    assert result.targets == [1, 0] or result.targets == [0, 1]
    for t in (0, 1):
        assert result.normlime.weights[t].shape == (result.lime.num_superpixels,)
        assert (result.normlime.weights[t] > 0).all()


def test_paddlex_npy_weights(four_class, prior, tmp_path):
    _, centres = prior
    table = {np.int64(1): {np.int64(i): np.float64(i + 1.0) for i in range(N_CLUSTERS)}, 2: {0: 1.0}}
    np.save(tmp_path / "normlime_weights.npy", table)  # as PaddleX wrote it (a pickled dict)
    gw = GlobalWeights.from_paddlex_file(tmp_path / "normlime_weights.npy", four_class, centres)
    assert gw.matches(four_class, centres)
    np.testing.assert_allclose(gw.weights[1], np.arange(1, N_CLUSTERS + 1) / np.arange(1, N_CLUSTERS + 1).sum())
    np.testing.assert_allclose(gw.weights[2], np.eye(N_CLUSTERS)[0])
    np.testing.assert_allclose(gw.weights[0], 1.0 / N_CLUSTERS)
    np.save(tmp_path / "arr.npy", np.ones(3))
    with pytest.raises(ValueError, match="not a PaddleX NormLIME weights file"):
        GlobalWeights.from_paddlex_file(tmp_path / "arr.npy", four_class, centres)
    with pytest.raises(ValueError, match="cluster"):
        GlobalWeights.from_paddlex_dict({0: {N_CLUSTERS: 1.0}}, four_class, centres)


# --- the task API: interpret.normlime / interpret.glime ------------------------------------------

class Untouchable:
    """A dataset that fails the test if anything reads it."""

    def __len__(self):
        raise AssertionError("the dataset was read although a valid weights file exists")

    def __iter__(self):
        raise AssertionError("the dataset was read although a valid weights file exists")

    __getitem__ = __iter__


def test_interpret_normlime_computes_then_reuses_the_weights_file(four_class, photos, assets_dir, tmp_path):
    from paddlex_interpret import interpret

    photo = tmp_path / "chelsea.png"
    Image.fromarray(photos["chelsea"]).save(photo)
    out = tmp_path / "out"
    first = interpret.normlime(photo, four_class, dataset=list(photos.values()), num_samples=40, save_dir=out,
                               assets_dir=assets_dir, random_state=0, progress=False)
    weights_file = out / "normlime_weights.npz"
    assert first.weights_file == str(weights_file) and weights_file.is_file()
    assert first.figure_path == str(out / "chelsea_normlime_s40.png")
    assert sorted(p.name for p in out.iterdir()) == ["chelsea_normlime_s40.png", "normlime_weights.npz"]
    stamp = weights_file.stat().st_mtime_ns
    again = interpret.normlime(photo, four_class, dataset=Untouchable(), num_samples=40, save_dir=out,
                               assets_dir=assets_dir, random_state=0, progress=False)
    assert weights_file.stat().st_mtime_ns == stamp
    for part in ("lime", "normlime", "combined"):
        np.testing.assert_array_equal(getattr(again, part).weights[again.target],
                                      getattr(first, part).weights[first.target])
    # dataset=None works once the file exists (PaddleX raised here)
    assert interpret.normlime(photo, four_class, num_samples=40, save_dir=None, normlime_weights_file=weights_file,
                              assets_dir=assets_dir, random_state=0, progress=False).figure_path is None


@pytest.mark.parametrize("file_name", ["normlime_weights.npy", "weights.npz", "weights"])
def test_the_weights_file_the_user_names_is_the_file_used(file_name, four_class, photos, assets_dir, tmp_path,
                                                          monkeypatch):
    """PaddleX's own example passes normlime_weights_file='./normlime_weights.npy': the second call with
    the same argument must reuse the weights without reading the dataset (or needing it)."""
    from paddlex_interpret import interpret

    monkeypatch.chdir(tmp_path)
    kw = dict(num_samples=20, save_dir=None, normlime_weights_file=f"./{file_name}", assets_dir=assets_dir,
              random_state=0, progress=False)
    first = interpret.normlime(photos["chelsea"], four_class, dataset=list(photos.values()), **kw)
    written = sorted(p.name for p in tmp_path.iterdir())
    expected = file_name if "." in file_name else file_name + ".npz"
    assert written == [expected] and Path(first.weights_file).name == expected
    stamp = (tmp_path / expected).stat().st_mtime_ns
    second = interpret.normlime(photos["chelsea"], four_class, dataset=Untouchable(), **kw)
    third = interpret.normlime(photos["chelsea"], four_class, dataset=None, **kw)
    assert (tmp_path / expected).stat().st_mtime_ns == stamp and sorted(p.name for p in tmp_path.iterdir()) == written
    for again in (second, third):
        np.testing.assert_array_equal(again.normlime.weights[again.target], first.normlime.weights[first.target])


def test_a_paddlex_weights_npy_at_the_named_path_is_used(four_class, photos, assets_dir, tmp_path):
    """A real PaddleX ``normlime_weights.npy`` (a pickled dict) handed over by name is read, not recomputed."""
    from paddlex_interpret import interpret
    from paddlex_interpret.priors import load_cluster_centres

    k = load_cluster_centres(Path(assets_dir) / KMEANS_FILE).shape[0]
    table = {c: {j: float(j == c) + 0.1 for j in range(k)} for c in range(4)}
    np.save(tmp_path / "normlime_weights.npy", table)  # as PaddleX wrote it
    result = interpret.normlime(photos["chelsea"], four_class, dataset=None, num_samples=20, save_dir=None,
                                normlime_weights_file=tmp_path / "normlime_weights.npy", assets_dir=assets_dir,
                                random_state=0, progress=False)
    t = result.target
    row = np.array([table[t][j] for j in range(k)])
    clusters = np.asarray(result.normlime.params["clusters"])
    np.testing.assert_allclose(result.normlime.weights[t], (row / row.sum())[clusters])


def test_interpret_normlime_recomputes_stale_or_corrupt_weights(four_class, binary, photos, assets_dir, tmp_path):
    from paddlex_interpret import interpret

    weights_file = tmp_path / "w.npz"
    kw = dict(num_samples=20, save_dir=None, normlime_weights_file=weights_file, assets_dir=assets_dir,
              random_state=0, progress=False)
    interpret.normlime(photos["coffee"], binary, dataset=list(photos.values()), **kw)
    with pytest.raises(ValueError, match="cannot be used: .*class.*Pass dataset="):
        interpret.normlime(photos["coffee"], four_class, **kw)  # weights of the binary model are stale here
    result = interpret.normlime(photos["coffee"], four_class, dataset=list(photos.values()), **kw)
    assert GlobalWeights.load(weights_file).num_classes == 4 and result.normlime.weights
    weights_file.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot be read"):
        interpret.normlime(photos["coffee"], four_class, **kw)
    interpret.normlime(photos["coffee"], four_class, dataset=list(photos.values()), **kw)
    assert GlobalWeights.load(weights_file).num_classes == 4


def test_interpret_glime(four_class, photos, assets_dir, tmp_path):
    from paddlex_interpret import interpret

    common = dict(num_samples=40, random_state=0, progress=False, assets_dir=assets_dir)
    plain = interpret.glime(photos["rocket"], four_class, prior_method="none", save_dir=None, **common)
    lime = interpret.lime(photos["rocket"], four_class, num_samples=40, random_state=0, progress=False,
                          save_dir=None)
    np.testing.assert_array_equal(plain.weights[plain.target], lime.weights[lime.target])
    exp = interpret.glime(photos["rocket"], four_class, dataset=list(photos.values()), save_dir=tmp_path,
                          prior_reg_force=1e6, **common)
    assert exp.method == "glime" and exp.figure_path == str(tmp_path / "image_glime_s40.png")
    assert (tmp_path / "normlime_weights.npz").is_file()


def test_weights_of_another_algorithm_are_not_reused(four_class, photos, assets_dir, tmp_path):
    from paddlex_interpret import interpret

    kw = dict(num_samples=20, save_dir=None, normlime_weights_file=tmp_path / "w.npz", assets_dir=assets_dir,
              random_state=0, progress=False)
    interpret.normlime(photos["coffee"], four_class, dataset=list(photos.values()), **kw)
    with pytest.raises(ValueError, match="'paddlex' weights, 'lime_average' were asked for"):
        interpret.normlime(photos["coffee"], four_class, algorithm="lime_average", **kw)
    with pytest.raises(ValueError, match="either assets_dir or prior_url"):
        interpret.normlime(photos["coffee"], four_class, prior_url="http://127.0.0.1:9/x.tar.gz", **kw)


# --- hardening: the global weights against the documented formulas, G-LIME's limits --------------

def _paddlex_formula(classifier, images, prior):
    """PaddleX's global weights, written out: per image the predicted class and the presence vector
    of clusters over the 10x10 grid; LogisticRegression(max_iter=1000, random_state=0); each class
    row w -> softmax(10 (w - max w)), computed element by element; binary: +coef for the second
    class, -coef for the first; classes never predicted 1/K."""
    import math

    from sklearn.linear_model import LogisticRegression

    from paddlex_interpret.priors.features import superpixel_clusters

    stem, centres = prior
    k = len(centres)
    rows, predicted = [], []
    for raw in images:
        image = classifier.image_as_explained(raw)
        predicted.append(int(np.argmax(classifier.predict_proba(image[None])[0])))
        presence = [0.0] * k
        for cluster in superpixel_clusters(stem, centres, image, grid_segments(image.shape[:2], 10)):
            presence[int(cluster)] = 1.0
        rows.append(presence)
    expected = np.full((classifier.num_classes, k), 1.0 / k)
    regression = LogisticRegression(max_iter=1000, random_state=0).fit(np.array(rows), np.array(predicted))
    classes = [int(c) for c in regression.classes_]
    coef = {classes[1]: list(regression.coef_[0]), classes[0]: [-v for v in regression.coef_[0]]} \
        if len(classes) == 2 else {c: list(regression.coef_[i]) for i, c in enumerate(classes)}
    for c, w in coef.items():
        top = max(w)
        e = [math.exp(10.0 * (v - top)) for v in w]
        expected[c] = [v / sum(e) for v in e]
    return expected, np.bincount(predicted, minlength=classifier.num_classes)


@pytest.mark.parametrize("model", ["four_class", "binary"])
def test_paddlex_global_weights_follow_the_documented_formula(model, photos, prior, request):
    classifier = request.getfixturevalue(model)
    images = list(photos.values())
    expected, counts = _paddlex_formula(classifier, images, prior)
    gw = compute_global_weights(classifier, images, prior=prior, progress=False, random_state=0)
    np.testing.assert_allclose(gw.weights, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(gw.class_counts, counts)
    seen = counts > 0
    assert seen.sum() >= 2 and (np.ptp(expected[seen], axis=1) > 0.05).all()  # not the uniform fallback


def test_lime_average_global_weights_follow_the_documented_formula(four_class, photos, prior):
    """InterpretDL's weights, written out: LIME (same parameters and seed) on every image for its top
    class; superpixel i of weight w_i adds w_i^2 / sum_j |w_j| to (class, cluster of i); the mean over
    occurrences per (class, cluster), normalised per class to sum 1; unseen classes 1/K."""
    from collections import defaultdict

    from paddlex_interpret.engine.lime import LimeImage
    from paddlex_interpret.priors.features import superpixel_clusters

    stem, centres = prior
    k = len(centres)
    images = list(photos.values())[:4]
    lime = LimeImage(four_class, num_samples=16, batch_size=16, progress=False, random_state=0)
    total, seen = defaultdict(float), defaultdict(int)
    for raw in images:
        exp = lime.explain(four_class.image_as_explained(raw), top_k=1)
        w = [float(v) for v in exp.weights[exp.target]]
        l1 = sum(abs(v) for v in w)
        for i, cluster in enumerate(superpixel_clusters(stem, centres, exp.image, exp.segments)):
            total[exp.target, int(cluster)] += w[i] ** 2 / l1
            seen[exp.target, int(cluster)] += 1
    expected = np.full((four_class.num_classes, k), 1.0 / k)
    for c in {t for t, _ in seen}:
        means = [total[c, j] / seen[c, j] if seen[c, j] else 0.0 for j in range(k)]
        expected[c] = [m / sum(means) for m in means]
    gw = compute_global_weights(four_class, images, prior=prior, progress=False, algorithm="lime_average",
                                lime_params={"num_samples": 16, "batch_size": 16}, random_state=0)
    np.testing.assert_allclose(gw.weights, expected, rtol=1e-9, atol=1e-12)
    assert np.ptp(expected[next(iter(seen))[0]]) > 0.01  # a class with real, unequal weights


def _recording_glime_fits(monkeypatch):
    """Record the (X, y, kernel) of every G-LIME local fit."""
    fits = []
    original = GLime._fit_target

    def recording(self, X, y, kernel, seed, target, **context):
        fits.append((X.copy(), y.copy(), kernel.copy(), target))
        return original(self, X, y, kernel, seed, target, **context)

    monkeypatch.setattr(GLime, "_fit_target", recording)
    return fits


def test_interpret_glime_with_the_normlime_prior_at_both_limits(four_class, photos, assets_dir, tmp_path,
                                                                monkeypatch):
    """interpret.glime on the NormLIME prior: a huge prior_reg_force returns the prior's ranking (the
    weights are the prior times one scale), 0 the unregularised kernel-weighted least-squares fit of
    the same samples (sklearn's LinearRegression). The astronaut at 64x64: 44 superpixels, 4 distinct
    prior values. Measured at 1e9: weights / prior constant to 2.5e-7 (relative spread), Spearman 1
    (ties of the prior kept: values rounded to 6 digits); at 0 the Spearman with the prior is 0.29."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.linear_model import LinearRegression

    from paddlex_interpret import interpret

    common = dict(dataset=list(photos.values()), num_samples=120, random_state=0, progress=False,
                  assets_dir=assets_dir, save_dir=None, normlime_weights_file=tmp_path / "w.npz")
    fits = _recording_glime_fits(monkeypatch)
    strong = interpret.glime(photos["astronaut"], four_class, prior_reg_force=1e9, **common)
    free = interpret.glime(photos["astronaut"], four_class, prior_reg_force=0.0, **common)
    assert len(fits) == 2
    t = strong.target
    stem, centres = load_prior(assets_dir)
    prior = normlime_prior(GlobalWeights.load(tmp_path / "w.npz"), stem, centres)(strong.image, strong.segments, t)
    assert len(prior) > 30 and len(np.unique(prior)) >= 3  # several clusters: the ranking says something
    ratio = strong.weights[t] / prior
    assert np.ptp(ratio) < 1e-5 * abs(ratio.mean()) and ratio.mean() > 0  # t * prior, as documented
    assert pearsonr(strong.weights[t], prior).statistic > 0.99999
    rounded = np.round(strong.weights[t] / np.abs(strong.weights[t]).max(), 6)
    assert spearmanr(rounded, np.round(prior / prior.max(), 6)).statistic > 0.999
    X, y, kernel, target = fits[1]
    assert target == free.target == t
    np.testing.assert_array_equal(X, fits[0][0])  # the same samples for both forces
    expected = LinearRegression().fit(X, y, sample_weight=kernel).coef_
    np.testing.assert_allclose(free.weights[t], expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
    assert spearmanr(free.weights[t], prior).statistic < 0.9  # the free fit does not follow the prior
