"""NormLIME prior assets: legacy LoDTensor files, safe k-means loading, fetch/verify/extract/lock/cache,
and the ResNet50_vc stem features. Every download is served by a test HTTP server on 127.0.0.1."""
import hashlib
import http.server
import io
import multiprocessing
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import threading
from collections import Counter

import numpy as np
import pytest

from paddlex_interpret.priors import download
from paddlex_interpret.priors.download import (
    KMEANS_FILE,
    MD5_ENV,
    PARAM_SHAPES,
    URL_ENV,
    PriorAssetsError,
    asset_problems,
    assets_valid,
    ensure_prior_assets,
    expected_tarball_path,
)
from paddlex_interpret.priors.kmeans import (
    KMeansFileError,
    assign_clusters,
    cluster_centres_from_bytes,
    load_cluster_centres,
)
from paddlex_interpret.priors.legacy_tensor import (
    LegacyTensorFormatError,
    lod_tensor_from_bytes,
    lod_tensor_to_bytes,
    read_lod_tensor,
    write_lod_tensor,
)

LOCK_NAME = ".pre_models.lock"


# --- test assets ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def assets():
    """Random stem parameters, a real fitted sklearn KMeans (pickled), and their file bytes."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    params = {}
    for name, shape in PARAM_SHAPES.items():
        value = rng.normal(0, 0.2, size=shape).astype(np.float32)
        if name.endswith("_variance"):
            value = np.abs(value) + 0.5
        params[name] = value
    km = KMeans(n_clusters=6, n_init=1, random_state=0).fit(rng.normal(size=(120, 128)))
    files = {name: lod_tensor_to_bytes(value) for name, value in params.items()}
    files[KMEANS_FILE] = pickle.dumps(km)
    return {"params": params, "kmeans": km, "files": files}


def make_tarball(files, prefix="pre_models/", extra=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        if prefix:
            info = tarfile.TarInfo(prefix.rstrip("/"))
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def good_tarball(assets):
    data = make_tarball(assets["files"])
    return data, md5(data)


def write_asset_folder(folder, assets):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in assets["files"].items():
        (folder / name).write_bytes(data)
    return folder


# --- loopback HTTP server ---------------------------------------------------------------------

class _Routes:
    def __init__(self):
        self.routes, self.counts, self.lock = {}, Counter(), threading.Lock()

    def add(self, path, body, mode="ok"):
        self.routes[path] = (body, mode)
        with self.lock:
            self.counts[path] = 0
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(routes):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path not in routes.routes:
                self.send_error(404)
                return
            with routes.lock:
                routes.counts[self.path] += 1
            body, mode = routes.routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(body) + (1000 if mode == "cut" else 0)))
            self.end_headers()
            if mode == "cut":  # promise more than is sent, then hang up
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if mode == "slow":  # ~1.5 s, so that two processes overlap
                step = max(1, len(body) // 30)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    threading.Event().wait(0.05)
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture(scope="module")
def server():
    routes = _Routes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    httpd.daemon_threads = True
    routes.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield routes
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/pre_models.tar.gz"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache" / "pre_models"


def leftovers(cache_dir):
    """Everything in the cache's parent besides the lock file."""
    parent = cache_dir.parent
    return sorted(p.name for p in parent.iterdir() if p.name != LOCK_NAME) if parent.exists() else []


# --- legacy LoDTensor format ------------------------------------------------------------------

def test_legacy_tensor_roundtrip_and_corruption(tmp_path):
    rng = np.random.default_rng(1)
    for value in (rng.normal(size=(4, 3, 3, 3)).astype(np.float32), np.arange(5, dtype=np.int64),
                  rng.normal(size=(2, 2)), np.float16([1.5, -2]), np.int32(7)):
        assert np.array_equal(read_lod_tensor(write_lod_tensor(tmp_path / "t", value)), value)
        assert read_lod_tensor(tmp_path / "t").dtype == value.dtype
    array, lod = lod_tensor_from_bytes(lod_tensor_to_bytes(np.ones((3, 2)), lod=[[0, 1, 3]]), return_lod=True)
    assert lod == [[0, 1, 3]] and array.shape == (3, 2)
    data = lod_tensor_to_bytes(np.ones((8, 8), np.float32))
    with pytest.raises(LegacyTensorFormatError, match="truncated"):
        lod_tensor_from_bytes(data[:-3])
    with pytest.raises(LegacyTensorFormatError, match="unexpected bytes"):
        lod_tensor_from_bytes(data + b"\0")
    with pytest.raises(LegacyTensorFormatError, match="version"):
        lod_tensor_from_bytes(b"\1" + data[1:])


_PADDLE_SCRIPT = r"""
import sys, numpy as np, paddle
paddle.enable_static()
arrays = dict(np.load(sys.argv[1]))
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    params = [paddle.static.create_parameter(shape=list(a.shape), dtype=str(a.dtype), name=n,
              default_initializer=paddle.nn.initializer.Constant(0)) for n, a in arrays.items()]
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(start)
scope = paddle.static.global_scope()
for n, a in arrays.items():
    scope.find_var(n).get_tensor().set(a, paddle.CPUPlace())
scope.find_var("ids").get_tensor().set_recursive_sequence_lengths([[1, 2]])
paddle.static.save_vars(exe, dirname=sys.argv[2], main_program=main, vars=params)  # Paddle writes
paddle.static.load_vars(exe, dirname=sys.argv[3], main_program=main, vars=params)  # Paddle reads ours
np.savez(sys.argv[4], **{n: np.array(scope.find_var(n).get_tensor()) for n in arrays})
print("LOD", scope.find_var("ids").get_tensor().lod())
"""


def test_paddle_static_save_vars_matches_reader_and_writer(tmp_path):
    """Paddle's own legacy static save API (save_vars, FLAGS_enable_pir_api=0, in a subprocess so
    this process's global state is untouched) writes bytes the reader reads identically and the
    writer reproduces byte for byte; Paddle's load_vars reads what the writer wrote."""
    rng = np.random.default_rng(2)
    arrays = {
        "for_kmeans_conv1_1_weights": rng.normal(size=(32, 3, 3, 3)).astype(np.float32),
        "for_kmeans_bnv1_1_variance": rng.uniform(0.5, 2, size=32).astype(np.float32),
        "f64": rng.normal(size=(5,)),
        "f16": rng.normal(size=(4, 2)).astype(np.float16),
        "i32": rng.integers(-9, 9, size=(3,)).astype(np.int32),
        "ids": rng.integers(0, 100, size=(3, 4)).astype(np.int64),
    }
    np.savez(tmp_path / "in.npz", **arrays)
    ours = tmp_path / "ours"
    ours.mkdir()
    theirs_in = {n: (a * 2 if a.dtype.kind == "f" else a + 1).astype(a.dtype) for n, a in arrays.items()}
    for name, value in theirs_in.items():
        write_lod_tensor(ours / name, value, lod=[[0, 1, 3]] if name == "ids" else None)
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    proc = subprocess.run(
        [sys.executable, "-c", _PADDLE_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "paddle"), str(ours),
         str(tmp_path / "loaded.npz")], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOD [[0, 1, 3]]" in proc.stdout
    for name, value in arrays.items():
        written = tmp_path / "paddle" / name
        got, lod = read_lod_tensor(written, return_lod=True)
        assert got.dtype == value.dtype and np.array_equal(got, value), name
        assert lod == ([[0, 1, 3]] if name == "ids" else [])
        assert written.read_bytes() == lod_tensor_to_bytes(value, lod=lod or None), name
    loaded = np.load(tmp_path / "loaded.npz")
    for name, value in theirs_in.items():
        assert loaded[name].dtype == value.dtype and np.array_equal(loaded[name], value), name


# --- k-means model ----------------------------------------------------------------------------

def test_kmeans_pickles_of_any_protocol_and_era(assets, tmp_path):
    km = assets["kmeans"]
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert np.array_equal(cluster_centres_from_bytes(pickle.dumps(km, protocol=protocol)), km.cluster_centers_)
    # A 0.2x-era file: old class path and NumPy 1 module names. Plain pickle cannot load it today.
    old = pickle.dumps(km, protocol=2)
    old = old.replace(b"sklearn.cluster._kmeans\nKMeans", b"sklearn.cluster.k_means_\nKMeans")
    old = old.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old)
    path = tmp_path / KMEANS_FILE
    path.write_bytes(old)
    centres = load_cluster_centres(path)
    assert np.array_equal(centres, km.cluster_centers_)
    x = np.random.default_rng(3).normal(size=(50, 128))
    assert np.array_equal(assign_clusters(x, centres), km.predict(x))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_kmeans_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"
    for payload in ({"cluster_centers_": _Evil(marker)}, _Evil(marker)):
        with pytest.raises(KMeansFileError):
            cluster_centres_from_bytes(pickle.dumps(payload))
    assert not marker.exists()
    with pytest.raises(KMeansFileError, match="not a readable pickle"):
        cluster_centres_from_bytes(b"garbage")


# --- fetch / verify / extract / cache ---------------------------------------------------------

def test_download_verify_extract_load(server, good_tarball, assets, cache):
    from paddlex_interpret.priors.stem import PriorStem

    data, digest = good_tarball
    url = server.add("/good.tar.gz", data)
    # temporaries of a process killed mid-repair are cleaned up under the lock
    cache.parent.mkdir(parents=True)
    (cache.parent / ".pre_models.tmp-orphan").mkdir()
    (cache.parent / ".pre_models.tar.gz.orphan.part").write_bytes(b"partial")
    folder = ensure_prior_assets(url=url, md5=digest, cache_dir=cache, progress=False)
    assert folder == cache and assets_valid(folder)
    assert leftovers(cache) == ["pre_models"]  # no tarball, no temporaries
    stem = PriorStem.from_assets(folder)
    state = stem.state_dict()
    for i in "123":
        np.testing.assert_array_equal(state[f"conv1_{i}.conv.weight"].numpy(),
                                      assets["params"][f"for_kmeans_conv1_{i}_weights"])
        for leaf, key in (("scale", "weight"), ("offset", "bias"), ("mean", "_mean"), ("variance", "_variance")):
            np.testing.assert_array_equal(state[f"conv1_{i}.bn.{key}"].numpy(),
                                          assets["params"][f"for_kmeans_bnv1_{i}_{leaf}"])
    assert np.array_equal(load_cluster_centres(folder / KMEANS_FILE), assets["kmeans"].cluster_centers_)
    assert ensure_prior_assets(url=url, md5=digest, cache_dir=cache, progress=False) == cache
    assert server.counts["/good.tar.gz"] == 1  # a valid cache is not fetched again


def test_cut_connection_leaves_nothing_and_retry_succeeds(server, good_tarball, cache):
    data, digest = good_tarball
    cut = server.add("/cut.tar.gz", data, mode="cut")
    with pytest.raises(PriorAssetsError, match="cut off") as info:
        ensure_prior_assets(url=cut, md5=digest, cache_dir=cache, progress=False)
    assert str(expected_tarball_path(cache)) in str(info.value)
    assert not cache.exists() and leftovers(cache) == []
    good = server.add("/retry.tar.gz", data)
    assert ensure_prior_assets(url=good, md5=digest, cache_dir=cache, progress=False) == cache
    assert assets_valid(cache)


def test_wrong_md5_names_expected_and_actual(server, good_tarball, cache):
    data, digest = good_tarball
    url = server.add("/md5.tar.gz", data)
    wrong = "0123456789abcdef" * 2
    with pytest.raises(PriorAssetsError, match="checksum mismatch") as info:
        ensure_prior_assets(url=url, md5=wrong, cache_dir=cache, progress=False)
    assert wrong in str(info.value) and digest in str(info.value)
    assert not cache.exists() and leftovers(cache) == []


def _evil_member(kind, tmp_path):
    if kind == "dotdot":
        info = tarfile.TarInfo("../evil")
    elif kind == "absolute":
        info = tarfile.TarInfo(str(tmp_path / "abs_evil"))
    else:
        info = tarfile.TarInfo("pre_models/link")
        info.type, info.linkname = tarfile.SYMTYPE, str(tmp_path / "link_target")
        return info, None
    info.size = 4
    return info, b"evil"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unsafe_archive_members_are_rejected(server, assets, cache, tmp_path, kind):
    data = make_tarball(assets["files"], extra=[_evil_member(kind, tmp_path)])
    url = server.add(f"/evil-{kind}.tar.gz", data)
    with pytest.raises(PriorAssetsError, match="refusing"):
        ensure_prior_assets(url=url, md5=md5(data), cache_dir=cache, progress=False)
    assert not cache.exists() and leftovers(cache) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "abs_evil").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_two_processes_fetching_at_once(server, good_tarball, cache):
    data, digest = good_tarball
    url = server.add("/slow.tar.gz", data, mode="slow")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=ensure_prior_assets, args=(url, digest, str(cache), False)) for _ in range(2)]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    assert assets_valid(cache) and leftovers(cache) == ["pre_models"]
    # The download takes ~1.5 s, so the processes overlap; the second waits on the lock, then finds
    # the cache valid under it: exactly one download (a lock-free design would make two).
    assert server.counts["/slow.tar.gz"] == 1


@pytest.mark.parametrize("kind", ["native", "portable"])
def test_cache_lock_is_exclusive(tmp_path, monkeypatch, kind):
    if kind == "portable":
        monkeypatch.setattr(download, "_fcntl", None)
        monkeypatch.setattr(download, "_msvcrt", None)
    path = tmp_path / LOCK_NAME
    with download._CacheLock(path):
        errors = []

        def contender():
            try:
                with download._CacheLock(path, timeout=0.3):
                    pass
            except PriorAssetsError as exc:
                errors.append(exc)

        thread = threading.Thread(target=contender)
        thread.start()
        thread.join(10)
        assert len(errors) == 1 and "timed out" in str(errors[0])
    with download._CacheLock(path, timeout=0.3):  # released
        pass


def test_corrupt_cache_is_detected_and_repaired(server, good_tarball, cache):
    data, digest = good_tarball
    url = server.add("/repair.tar.gz", data)
    ensure_prior_assets(url=url, md5=digest, cache_dir=cache, progress=False)
    victim = cache / "for_kmeans_conv1_2_weights"
    original = victim.read_bytes()
    victim.write_bytes(original[:1000])
    problems = asset_problems(cache)
    assert len(problems) == 1 and "for_kmeans_conv1_2_weights" in problems[0] and "truncated" in problems[0]
    assert ensure_prior_assets(url=url, md5=digest, cache_dir=cache, progress=False) == cache
    assert server.counts["/repair.tar.gz"] == 2
    assert victim.read_bytes() == original and assets_valid(cache)
    assert leftovers(cache) == ["pre_models"]
    (cache / KMEANS_FILE).write_bytes(b"not a pickle")
    assert "kmeans_model.pkl" in asset_problems(cache)[0]
    ensure_prior_assets(url=url, md5=digest, cache_dir=cache, progress=False)
    assert assets_valid(cache)


def test_environment_overrides_url_and_md5(server, good_tarball, tmp_path, closed_port_url, monkeypatch):
    data, digest = good_tarball
    url = server.add("/env.tar.gz", data)
    monkeypatch.setenv(URL_ENV, url)
    monkeypatch.setenv(MD5_ENV, digest.upper())
    assert assets_valid(ensure_prior_assets(cache_dir=tmp_path / "a" / "pre_models", progress=False))
    assert server.counts["/env.tar.gz"] == 1
    wrong = "f" * 32
    monkeypatch.setenv(MD5_ENV, wrong)
    with pytest.raises(PriorAssetsError, match=wrong):
        ensure_prior_assets(cache_dir=tmp_path / "b" / "pre_models", progress=False)
    # arguments win over the environment
    monkeypatch.setenv(URL_ENV, closed_port_url)
    assert assets_valid(ensure_prior_assets(url=url, md5=digest, cache_dir=tmp_path / "c" / "pre_models",
                                            progress=False))
    monkeypatch.setenv(MD5_ENV, "not-an-md5")
    with pytest.raises(ValueError, match=MD5_ENV):
        ensure_prior_assets(cache_dir=tmp_path / "d" / "pre_models", progress=False)


def test_offline_error_says_where_to_put_the_tarball(server, good_tarball, cache, closed_port_url):
    data, digest = good_tarball
    with pytest.raises(PriorAssetsError) as info:
        ensure_prior_assets(url=closed_port_url, md5=digest, cache_dir=cache, progress=False)
    tarball = expected_tarball_path(cache)
    assert str(tarball) in str(info.value) and str(cache) in str(info.value)
    assert not cache.exists() and leftovers(cache) == []
    with pytest.raises(PriorAssetsError, match="HTTP 404"):
        ensure_prior_assets(url=server.add("/x", b"") + "-missing", md5=digest, cache_dir=cache, progress=False)
    tarball.write_bytes(data[:-10])  # a bad hand-placed tarball is ignored, and said so
    with pytest.raises(PriorAssetsError, match="was ignored: its md5 is"):
        ensure_prior_assets(url=closed_port_url, md5=digest, cache_dir=cache, progress=False)
    tarball.write_bytes(data)  # placed by hand; still offline
    assert ensure_prior_assets(url=closed_port_url, md5=digest, cache_dir=cache, progress=False) == cache
    assert assets_valid(cache) and tarball.read_bytes() == data


def test_existing_paddlex_cache_is_reused(assets, tmp_path, closed_port_url, monkeypatch, server, good_tarball):
    fake_home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(fake_home))
    assert download.legacy_paddlex_dir() == fake_home / ".paddlex" / "pre_models"
    legacy = write_asset_folder(fake_home / ".paddlex" / "pre_models", assets)
    monkeypatch.setattr(download, "legacy_paddlex_dir", lambda: legacy)
    monkeypatch.setenv("PADDLEX_INTERPRET_HOME", str(tmp_path / "pxi"))
    assert ensure_prior_assets(url=closed_port_url, progress=False) == legacy  # offline: no fetch needed
    assert not (tmp_path / "pxi").exists()
    (legacy / "for_kmeans_bnv1_3_mean").unlink()  # an invalid PaddleX cache is left alone
    data, digest = good_tarball
    url = server.add("/own.tar.gz", data)
    folder = ensure_prior_assets(url=url, md5=digest, progress=False)
    assert folder == tmp_path / "pxi" / "pre_models" and assets_valid(folder)
    assert not (legacy / "for_kmeans_bnv1_3_mean").exists()


# --- stem features ----------------------------------------------------------------------------

def test_superpixel_features_known_answer():
    from paddlex_interpret.priors.stem import superpixel_features

    fmap = np.arange(2 * 4 * 4, dtype=np.float64).reshape(2, 4, 4)
    segments = np.array([[7, 7, 3, 3]] * 4)  # labels need not start at 0 or be contiguous
    feats = superpixel_features(fmap, segments)
    # label 3 (columns 2-3): centroid (1.5, 2.5) -> rounded half up (2, 3)
    raw = np.array([[fmap[0, 2, 3], fmap[1, 2, 3], fmap[0][:, 2:].mean(), fmap[1][:, 2:].mean()],
                    [fmap[0, 2, 1], fmap[1, 2, 1], fmap[0][:, :2].mean(), fmap[1][:, :2].mean()]])
    np.testing.assert_allclose(feats, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6)


def test_stem_on_a_real_photo(assets, tmp_path):
    import paddle
    import skimage.data
    from skimage.segmentation import slic

    from paddlex_interpret.priors.stem import IMAGENET_MEAN, IMAGENET_STD, PriorStem, superpixel_features

    folder = write_asset_folder(tmp_path / "pre_models", assets)
    stem = PriorStem.from_assets(folder)
    stem.train()  # the stored BN statistics are used regardless
    image = skimage.data.chelsea()[50:274, 100:324]
    fmap = stem.feature_map(image)
    assert fmap.shape == (64, 224, 224) and np.isfinite(fmap).all()
    assert np.array_equal(stem.feature_map(image), fmap)  # statistics were not updated

    # independent reference: conv -> BN with the stored statistics (eps 1e-5) -> ReLU, x3
    x = (image / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    h = paddle.to_tensor(x.transpose(2, 0, 1)[None].astype(np.float32))
    for i, stride in (("1", 2), ("2", 1), ("3", 1)):
        p = {k: paddle.to_tensor(assets["params"][f"for_kmeans_bnv1_{i}_{k}"]).reshape([1, -1, 1, 1])
             for k in ("scale", "offset", "mean", "variance")}
        h = paddle.nn.functional.conv2d(h, paddle.to_tensor(assets["params"][f"for_kmeans_conv1_{i}_weights"]),
                                        stride=stride, padding=1)
        h = paddle.nn.functional.relu((h - p["mean"]) / paddle.sqrt(p["variance"] + 1e-5) * p["scale"] + p["offset"])
    assert tuple(h.shape) == (1, 64, 112, 112)
    ref = paddle.nn.functional.interpolate(h, size=[224, 224], mode="bilinear", align_corners=True)[0].numpy()
    np.testing.assert_allclose(fmap, ref, rtol=1e-4, atol=1e-4)

    segments = slic(image, n_segments=60, start_label=0)
    feats = superpixel_features(fmap, segments)
    assert feats.shape == (len(np.unique(segments)), 128) and np.isfinite(feats).all()
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-5)
    clusters = assign_clusters(feats, load_cluster_centres(folder / KMEANS_FILE))
    assert clusters.shape == (len(feats),) and clusters.min() >= 0 and clusters.max() < 6
