"""Building a NormLIME prior from a folder of images (priors.build): stem weights from an asset
folder, a ResNet50_vc or a ResNet50_vd checkpoint; output layout, determinism and failures."""
import pickle

import numpy as np
import pytest
from PIL import Image

from paddlex_interpret.priors import build
from paddlex_interpret.priors.build import StemWeightsError, build_prior, load_stem_weights
from paddlex_interpret.priors.download import KMEANS_FILE, PARAM_SHAPES, asset_problems, assets_valid
from paddlex_interpret.priors.kmeans import assign_clusters, load_cluster_centres
from paddlex_interpret.priors.legacy_tensor import read_lod_tensor, write_lod_tensor

K = 6


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    import skimage.data as data

    folder = tmp_path_factory.mktemp("photos")
    arrays = {
        "chelsea": data.chelsea(),
        "coffee": data.coffee(),
        "astronaut": data.astronaut(),
        "rocket": data.rocket(),
        "motorcycle_left": data.stereo_motorcycle()[0],
    }
    (folder / "sub").mkdir()
    for i, (name, array) in enumerate(arrays.items()):
        # one in a sub-folder (recursive search), mixed formats
        target = folder / ("sub" if name == "rocket" else "") / f"{name}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(array).save(target)
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def params():
    rng = np.random.default_rng(1)
    out = {}
    for name, shape in PARAM_SHAPES.items():
        value = rng.normal(0, 0.3, size=shape).astype(np.float32)
        if name.endswith("_variance"):
            value = np.abs(value) + 0.5
        out[name] = value
    return out


@pytest.fixture(scope="module")
def asset_folder(tmp_path_factory, params):
    folder = tmp_path_factory.mktemp("assets")
    for name, value in params.items():
        write_lod_tensor(folder / name, value)
    return folder  # no kmeans_model.pkl: not needed for the stem


def vc_state(params):
    state = {}
    for i in (1, 2, 3):
        state[f"conv1_{i}_weights"] = params[f"for_kmeans_conv1_{i}_weights"]
        for kind in ("scale", "offset", "mean", "variance"):
            state[f"bnv1_{i}_{kind}"] = params[f"for_kmeans_bnv1_{i}_{kind}"]
    state["fc_0.w_0"] = np.zeros((4, 2), np.float32)  # unrelated keys are ignored
    return state


def vd_state(params, prefix=""):
    leaf = {"scale": "weight", "offset": "bias", "mean": "_mean", "variance": "_variance"}
    state = {}
    for i in (1, 2, 3):
        state[f"{prefix}stem.{i - 1}.conv.weight"] = params[f"for_kmeans_conv1_{i}_weights"]
        for kind, name in leaf.items():
            state[f"{prefix}stem.{i - 1}.bn.{name}"] = params[f"for_kmeans_bnv1_{i}_{kind}"]
    state[f"{prefix}fc.weight"] = np.zeros((4, 2), np.float32)
    return state


def save_checkpoint(path, state):
    import paddle

    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    return path


def check_output(out, params):
    assert assets_valid(out), asset_problems(out)
    assert sorted(p.name for p in out.iterdir()) == sorted([*PARAM_SHAPES, KMEANS_FILE])
    centres = load_cluster_centres(out / KMEANS_FILE)
    assert centres.shape == (K, 128)
    for name, value in params.items():
        np.testing.assert_array_equal(read_lod_tensor(out / name), value)
    return centres


def no_temporaries(parent, keep):
    return sorted(p.name for p in parent.iterdir()) == sorted(keep)


@pytest.fixture(scope="module")
def built(photos, asset_folder, params, tmp_path_factory):
    """(a) stem weights from an asset folder."""
    out = tmp_path_factory.mktemp("built") / "prior"
    result = build_prior(photos, out, clusters=K, stem_weights=asset_folder, progress=False)
    return result, check_output(result, params)


def test_build_from_asset_folder(built, params):
    out, centres = built
    assert out.is_absolute() and no_temporaries(out.parent, ["prior"])
    # the pickle is a real fitted scikit-learn KMeans (the layout PaddleX downloads)
    with open(out / KMEANS_FILE, "rb") as f:
        km = pickle.load(f)
    np.testing.assert_allclose(km.cluster_centers_, centres)
    # centres are L2-normalised feature averages: norms at most 1, and the stem reads the assets back
    assert (np.linalg.norm(centres, axis=1) <= 1 + 1e-5).all()
    from paddlex_interpret.priors import PriorStem

    stem = PriorStem.from_assets(out)
    np.testing.assert_array_equal(stem.conv1_3.bn._variance.numpy(), params["for_kmeans_bnv1_3_variance"])
    assert len(np.unique(assign_clusters(centres, centres))) == K


def test_checkpoints_vc_and_vd_give_the_same_prior(built, photos, params, tmp_path):
    """(b) ResNet50_vc parameter names, (c) ResNet50_vd structured names; same weights and seed
    as the asset-folder build -> identical centres (determinism)."""
    _, reference = built
    vc = save_checkpoint(tmp_path / "ResNet50_vc_pretrained.pdparams", vc_state(params))
    vd = save_checkpoint(tmp_path / "ResNet50_vd_pretrained.pdparams", vd_state(params, prefix="backbone."))
    for name, ckpt in (("vc", vc), ("vd", vd)):
        out = build_prior(photos, tmp_path / name, clusters=K, stem_weights=ckpt, progress=False)
        np.testing.assert_array_equal(check_output(out, params), reference)


def test_load_stem_weights_namings(params):
    vc_structured = {}
    for i in (1, 2, 3):
        vc_structured[f"conv1_{i}._conv.weight"] = params[f"for_kmeans_conv1_{i}_weights"]
        for kind, leaf in (("scale", "weight"), ("offset", "bias"), ("mean", "_mean"), ("variance", "_variance")):
            vc_structured[f"conv1_{i}._batch_norm.{leaf}"] = params[f"for_kmeans_bnv1_{i}_{kind}"]
    for state in (vc_state(params), vd_state(params), vc_structured, params):
        got = load_stem_weights(state)
        assert set(got) == set(PARAM_SHAPES)
        for name in PARAM_SHAPES:
            np.testing.assert_array_equal(got[name], params[name])


def test_missing_and_wrong_keys_are_named(params, photos, tmp_path):
    state = vd_state(params)
    del state["stem.1.bn._variance"]
    ckpt = save_checkpoint(tmp_path / "broken.pdparams", state)
    with pytest.raises(StemWeightsError, match=r"ResNet50_vd.*'stem\.1\.bn\._variance'"):
        build_prior(photos, tmp_path / "out", clusters=K, stem_weights=ckpt, progress=False)
    state = vc_state(params)
    del state["bnv1_2_mean"]
    with pytest.raises(StemWeightsError, match=r"lacks 1 of the 15 stem keys: 'bnv1_2_mean'"):
        load_stem_weights(state)
    state = vc_state(params)
    state["conv1_1_weights"] = np.zeros((64, 3, 7, 7), np.float32)
    with pytest.raises(StemWeightsError, match=r"'conv1_1_weights' is float32\[64, 3, 7, 7\]"):
        load_stem_weights(state)
    with pytest.raises(StemWeightsError, match=r"no ResNet50_vc/vd stem.*'conv1\.weight'"):
        load_stem_weights({"conv1.weight": np.zeros((64, 3, 7, 7))})
    assert no_temporaries(tmp_path, ["broken.pdparams"])


def test_too_few_superpixels_for_the_clusters(photos, asset_folder, tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    Image.open(photos / "coffee.png").save(one / "coffee.png")
    with pytest.raises(ValueError, match=r"only \d+ superpixels .* from 1 image\(s\), fewer than clusters=500"):
        build_prior(one, tmp_path / "out", clusters=500, stem_weights=asset_folder, progress=False,
                    segmentation="slic", segmentation_params={"n_segments": 20})
    assert no_temporaries(tmp_path, ["one"])


def test_bad_inputs_leave_nothing_behind(asset_folder, photos, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no images here")
    with pytest.raises(ValueError, match="no images"):
        build_prior(empty, tmp_path / "out", clusters=K, stem_weights=asset_folder, progress=False)
    with pytest.raises(FileNotFoundError):
        build_prior(tmp_path / "missing", tmp_path / "out", clusters=K, stem_weights=asset_folder, progress=False)
    with pytest.raises(ValueError, match="clusters"):
        build_prior(photos, tmp_path / "out", clusters=1, stem_weights=asset_folder, progress=False)
    with pytest.raises(FileNotFoundError, match="stem_weights"):
        build_prior(photos, tmp_path / "out", clusters=K, stem_weights=tmp_path / "nope.pdparams", progress=False)
    garbage = tmp_path / "garbage.pdparams"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(StemWeightsError, match="not a readable Paddle checkpoint"):
        build_prior(photos, tmp_path / "out", clusters=K, stem_weights=garbage, progress=False)
    broken = tmp_path / "broken_assets"
    broken.mkdir()
    write_lod_tensor(broken / "for_kmeans_conv1_1_weights", np.zeros((32, 3, 3, 3), np.float32))
    with pytest.raises(StemWeightsError, match="missing 'for_kmeans_bnv1_1_scale'"):
        build_prior(photos, tmp_path / "out", clusters=K, stem_weights=broken, progress=False)
    # an unreadable file alone: every image fails -> clear error
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="none of the 1 images could be read"):
        build_prior(only_bad, tmp_path / "out", clusters=K, stem_weights=asset_folder, progress=False)
    assert no_temporaries(tmp_path, ["empty", "garbage.pdparams", "broken_assets", "only_bad"])


def test_existing_out_dir_and_overwrite(built, photos, asset_folder, tmp_path, monkeypatch):
    out = tmp_path / "prior"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        build_prior(photos, out, clusters=K, stem_weights=asset_folder, progress=False)
    assert (out / "keep.txt").read_text() == "user data"

    # a failure while writing (after the features) keeps the old folder and leaves no temporary
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build, "write_lod_tensor", fail)
    with pytest.raises(OSError, match="disk full"):
        build_prior(photos, out, clusters=K, stem_weights=asset_folder, progress=False, overwrite=True,
                    max_images=2)
    assert no_temporaries(tmp_path, ["prior"]) and (out / "keep.txt").is_file()
    monkeypatch.undo()

    result = build_prior(photos, out, clusters=K, stem_weights=asset_folder, progress=False, overwrite=True,
                         max_images=3)
    assert result == out and assets_valid(out) and not (out / "keep.txt").exists()
    assert no_temporaries(tmp_path, ["prior"])


def test_default_stem_weights_use_the_cached_assets(monkeypatch, asset_folder, params):
    monkeypatch.setattr(build, "ensure_prior_assets", lambda progress=True: asset_folder)
    got = load_stem_weights(None)
    for name in PARAM_SHAPES:
        np.testing.assert_array_equal(got[name], params[name])


def test_cli_build_prior_then_normlime(photos, asset_folder, tmp_path, capsys, demo_images):
    """The whole NormLIME path from the command line, offline: own prior, then explain with it."""
    from paddlex_interpret.cli import main

    out = tmp_path / "my_prior"
    assert main(["build-prior", "--images", str(photos), "--clusters", "4", "--out", str(out),
                 "--stem-weights", str(asset_folder), "--no-progress"]) == 0
    assert assets_valid(out) and "prior assets written to" in capsys.readouterr().out
    assert main(["build-prior", "--images", str(photos), "--out", str(out), "--stem-weights",
                 str(asset_folder)]) == 1  # not empty, no --overwrite
    assert "paddlex-interpret: error:" in capsys.readouterr().err
    figures = tmp_path / "fig"
    assert main(["normlime", demo_images["chelsea"], "--assets-dir", str(out), "--dataset", str(photos),
                 "--num-samples", "20", "--save-dir", str(figures), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "global weights:" in printed and (figures / "chelsea_normlime_s20.png").is_file()
    assert (figures / "normlime_weights.npz").is_file()


def test_cli_normlime_offline_says_where_to_put_the_tarball(monkeypatch, tmp_path, capsys, demo_images):
    from paddlex_interpret.cli import main

    monkeypatch.setenv("PADDLEX_INTERPRET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PADDLEX_INTERPRET_PRIOR_URL", "http://127.0.0.1:9/pre_models.tar.gz")  # closed port
    monkeypatch.setattr("paddlex_interpret.priors.download.legacy_paddlex_dir", lambda: tmp_path / "no_paddlex")
    assert main(["normlime", demo_images["chelsea"], "--save-dir", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("paddlex-interpret: error:") and "Traceback" not in err
    assert "pre_models.tar.gz" in err


# --- against the real PaddleClas architectures -------------------------------------------------

def _paddleclas_backbones():
    from paddleclas.ppcls.arch import backbone

    return backbone


@pytest.fixture(scope="module")
def resnet50_vc(asset_folder):
    """A real PaddleClas ResNet50_vc whose stem holds the legacy files' weights. Built once: its
    parameters have fixed names, which Paddle allows only once per process."""
    net = _paddleclas_backbones().ResNet50_vc(pretrained=False, class_num=4)
    by_name = {t.name: t for t in net.state_dict().values()}
    for file_name in PARAM_SHAPES:  # ResNet50_vc's own names are the files' names minus the prefix
        by_name[file_name.replace("for_kmeans_", "")].set_value(read_lod_tensor(asset_folder / file_name))
    return net


def test_prior_stem_equals_paddleclas_resnet50_vc_stem(asset_folder, resnet50_vc):
    """The legacy for_kmeans_* files loaded into PriorStem give exactly the output of a real
    PaddleClas ResNet50_vc stem (conv1_1..conv1_3) holding the same weights."""
    import paddle
    import skimage.data

    from paddlex_interpret.priors import PriorStem

    net = resnet50_vc
    net.eval()
    stem = PriorStem.from_assets(asset_folder)
    x = PriorStem.preprocess(np.stack([skimage.data.chelsea()[:224, :224], skimage.data.coffee()[:224, :224]]))
    with paddle.no_grad():
        expected = net.conv1_3(net.conv1_2(net.conv1_1(x))).numpy()
        got = stem(x).numpy()
    assert got.shape == (2, 64, 112, 112) and np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_real_paddleclas_checkpoints_build_the_same_prior(built, photos, params, resnet50_vc, tmp_path):
    """Checkpoints saved from real PaddleClas ResNet50_vc / ResNet50_vd networks (their own key
    names, every other layer included) give the same prior as the asset folder."""
    import paddle

    backbone = _paddleclas_backbones()
    _, reference = built
    vc_net = resnet50_vc
    vd_net = backbone.ResNet50_vd(pretrained=False, class_num=4)
    vd_state_real = vd_net.state_dict()
    for key, value in vd_state(params).items():
        if key.startswith("stem."):
            vd_state_real[key].set_value(value)
    for name, net in (("vc", vc_net), ("vd", vd_net)):
        ckpt = tmp_path / f"{name}.pdparams"
        paddle.save(net.state_dict(), str(ckpt))
        out = build_prior(photos, tmp_path / name, clusters=K, stem_weights=ckpt, progress=False)
        np.testing.assert_array_equal(check_output(out, params), reference)


def test_cli_normlime_flags_and_values(photos, asset_folder, tmp_path, capsys, demo_images, demo_model):
    """--weights-file names the file used (reused on the second call), --algorithm is checked against it,
    and the weights in it are the ones compute_global_weights gives for the same model, data and seed."""
    from paddlex_interpret.cli import main
    from paddlex_interpret.engine.lime.global_weights import GlobalWeights
    from paddlex_interpret.engine.lime.normlime_dataset import compute_global_weights
    from paddlex_interpret.priors.features import load_prior

    prior = tmp_path / "prior"
    build_prior(photos, prior, clusters=4, stem_weights=asset_folder, progress=False)
    weights_file = tmp_path / "kept" / "nl.npy"  # PaddleX's example names a .npy
    weights_file.parent.mkdir()
    common = ["normlime", demo_images["chelsea"], "--assets-dir", str(prior), "--num-samples", "20",
              "--save-dir", str(tmp_path / "fig"), "--weights-file", str(weights_file), "--no-progress", "--seed", "5"]
    assert main([*common, "--dataset", str(photos)]) == 0
    out = capsys.readouterr().out
    assert f"global weights: {weights_file}" in out and "class 282 (tiger cat)" in out
    saved = GlobalWeights.load(weights_file)
    expected = compute_global_weights(demo_model, str(photos), prior=load_prior(prior), algorithm="paddlex",
                                      progress=False, random_state=5)
    np.testing.assert_allclose(saved.weights, expected.weights, rtol=1e-9)
    assert saved.algorithm == "paddlex" and saved.num_images == expected.num_images >= 3
    assert np.ptp(saved.weights, axis=1).max() > 0.01  # predicted classes have learnt, non-uniform rows
    stamp = weights_file.stat().st_mtime_ns
    assert main(common) == 0  # no --dataset: the named file is reused
    assert weights_file.stat().st_mtime_ns == stamp and f"global weights: {weights_file}" in capsys.readouterr().out
    assert main([*common, "--algorithm", "lime_average"]) == 1
    assert "holds 'paddlex' weights, 'lime_average' were asked for" in capsys.readouterr().err
