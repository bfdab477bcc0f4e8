"""Hardening: files the package reads cannot run code or corrupt memory, archives are extracted
safely, cache locks survive killed processes, written files get normal permissions, and tests
never see the developer's real home. Downloads are served by a test HTTP server on 127.0.0.1."""
import collections
import gzip
import hashlib
import http.server
import io
import os
import pickle
import signal
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from test_priors import cache, closed_port_url, leftovers  # noqa: F401  (fixtures shared with test_priors)
from paddlex_interpret._home import atomic_write
from paddlex_interpret.models.torch_legacy import LegacyTorchFormatError, read_legacy_state_dict
from paddlex_interpret.priors import download
from paddlex_interpret.priors.download import (
    KMEANS_FILE,
    PARAM_SHAPES,
    TARBALL_NAME,
    PriorArchiveError,
    PriorAssetsError,
    assets_valid,
    ensure_prior_assets,
    expected_tarball_path,
)
from paddlex_interpret.priors.kmeans import KMeansFileError, load_cluster_centres
from paddlex_interpret.priors.legacy_tensor import lod_tensor_to_bytes

LOCK_NAME = ".pre_models.lock"
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes, signals and fork-free locks")


# --- payloads that would leave a marker file if they ran -------------------------------------

class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _Open:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


PAYLOADS = {  # marker path -> pickle bytes
    "os.system": lambda marker: pickle.dumps(_System(marker), protocol=2),
    "open": lambda marker: pickle.dumps(_Open(marker), protocol=2),
    "INST": lambda marker: f"(S'touch {marker}'\nios\nsystem\n.".encode(),
    "OBJ": lambda marker: f"(cos\nsystem\nS'touch {marker}'\no.".encode(),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_payloads_do_run_under_plain_pickle(tmp_path, payload):
    marker = tmp_path / "pwned"
    try:
        pickle.loads(PAYLOADS[payload](marker))
    except TypeError:  # open() returned a file, which then gets no further use
        pass
    assert marker.exists()


# --- legacy torch files -----------------------------------------------------------------------

_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_RECORDS = ("magic-number", "protocol-version", "system-info", "state-dict", "storage-keys")


def _legacy_file(path, records, storages=b""):
    with open(path, "wb") as f:
        for record in records:
            f.write(record if isinstance(record, bytes) else pickle.dumps(record, protocol=2))
        f.write(storages)
    return path


def _plain_records():
    return [_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                           "type_sizes": {"short": 2, "int": 4, "long": 4}},
            collections.OrderedDict(), []]


def _ops(obj):
    """The opcodes of a pickled plain value, without PROTO and STOP (to splice into a pickle)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _one_tensor_state_dict(name, key, numel, shape, strides, offset=0):
    """The state-dict record torch <1.6 writes for ``{name: FloatTensor}`` (torch is not needed)."""
    storage = b"(" + _ops("storage") + _global("torch", "FloatStorage") + _ops(key) + _ops("cpu") + _ops(numel) + b"NtQ"
    hooks = _global("collections", "OrderedDict") + b")R"
    tensor = (_global("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + _ops(offset) + _ops(tuple(shape))
              + _ops(tuple(strides)) + b"\x89" + hooks + b"tR")
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + _ops(name) + tensor + b"u."


def _one_tensor_file(path, values, shape, strides, offset=0):
    values = np.asarray(values, dtype=np.float32)
    records = _plain_records()[:3] + [_one_tensor_state_dict("w", "k0", values.size, shape, strides, offset), ["k0"]]
    return _legacy_file(path, records, np.int64(values.size).tobytes() + values.tobytes())


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("record", LEGACY_RECORDS)
def test_legacy_torch_reader_runs_no_code_in_any_record(tmp_path, record, payload):
    marker = tmp_path / "pwned"
    records = _plain_records()
    records[LEGACY_RECORDS.index(record)] = PAYLOADS[payload](marker)
    path = _legacy_file(tmp_path / "evil.pth", records)
    with pytest.raises(LegacyTorchFormatError, match="refusing to load") as info:
        read_legacy_state_dict(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_legacy_torch_header_records_hold_plain_data_only(tmp_path):
    records = _plain_records()
    for extra, kind in ((1.5, "float"), ({1}, "set"), (b"raw", "bytes")):
        records[2] = pickle.dumps({"little_endian": True, "extra": extra}, protocol=4)  # no globals needed
        with pytest.raises(LegacyTorchFormatError, match=f"system-info record holds a {kind}; only ints"):
            read_legacy_state_dict(_legacy_file(tmp_path / "a.pth", records))
    records = _plain_records()
    records[2] = ["little_endian"]
    with pytest.raises(LegacyTorchFormatError, match="system-info record is a list, expected a dict"):
        read_legacy_state_dict(_legacy_file(tmp_path / "b.pth", records))
    records = _plain_records()
    records[4] = [1, 2]
    with pytest.raises(LegacyTorchFormatError, match="storage keys are not a list of strings"):
        read_legacy_state_dict(_legacy_file(tmp_path / "c.pth", records))


def test_legacy_torch_tensor_must_fit_its_storage(tmp_path):
    values = np.arange(6, dtype=np.float32)
    got = read_legacy_state_dict(_one_tensor_file(tmp_path / "ok.pth", values, (2, 3), (3, 1)))
    np.testing.assert_array_equal(got["w"], values.reshape(2, 3))
    got = read_legacy_state_dict(_one_tensor_file(tmp_path / "t.pth", values, (3, 2), (1, 3)))  # transposed view
    np.testing.assert_array_equal(got["w"], values.reshape(2, 3).T)
    for shape, strides, offset in (((4, 4), (4, 1), 0), ((6,), (1,), 1), ((2,), (-1,), 5)):
        path = _one_tensor_file(tmp_path / "bad.pth", values, shape, strides, offset)
        with pytest.raises(LegacyTorchFormatError, match="tensor 'w'"):
            read_legacy_state_dict(path)


def test_real_demo_weights_still_load():
    from paddlex_interpret import demo

    state = read_legacy_state_dict(demo._torch_weights_file())
    assert len(state) == 296
    stem = state["_conv_stem.weight"]
    assert stem.shape == (32, 3, 3, 3) and stem.dtype == np.float32 and np.isfinite(stem).all()
    assert state["_bn0.num_batches_tracked"].dtype == np.int64


# --- k-means pickles --------------------------------------------------------------------------

def test_kmeans_reader_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [make(marker) for make in PAYLOADS.values()]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        payloads += [pickle.dumps(obj, protocol=protocol) for obj in (
            {"cluster_centers_": _System(marker)},
            {"cluster_centers_": np.zeros((2, 128)), "n_init": _Open(marker)},
            collections.OrderedDict(cluster_centers_=np.zeros((2, 128)), algorithm=_System(marker)))]
    for i, payload in enumerate(payloads):
        path = tmp_path / f"{i}_{KMEANS_FILE}"
        path.write_bytes(payload)
        try:
            centres = load_cluster_centres(path)
        except KMeansFileError as exc:
            assert str(path) in str(exc)
        else:  # a plain array next to an inert stand-in is fine, as long as nothing ran
            assert centres.shape == (2, 128)
        assert not marker.exists(), f"payload {i} ran"


def test_kmeans_reader_still_reads_ordinary_numpy_pickles():
    """The guards keep every layout numpy pickles: F-order, transposed (protocol 5 axis order),
    big-endian, structured, sub-array, object, datetime arrays and numpy scalars."""
    from paddlex_interpret.priors.kmeans import cluster_centres_from_bytes

    centres = np.arange(24.0).reshape(4, 6).T
    state = {"cluster_centers_": centres, "t": np.arange(24.0).reshape(2, 3, 4).transpose(1, 0, 2),
             "be": np.ones(3, ">f8"), "rec": np.array([(1, "a")], dtype=[("x", "i4"), ("y", "U3")]),
             "sub": np.zeros(2, dtype=[("a", "f4", (2,))]), "obj": np.array(["a", None], dtype=object),
             "when": np.array(["2020-01-01"], dtype="M8[D]"), "inertia_": np.float64(3.5), "n": np.int32(7)}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        got = cluster_centres_from_bytes(pickle.dumps(state, protocol=protocol))
        assert got.dtype == np.float64 and np.array_equal(got, centres), protocol


_FORGED = textwrap.dedent("""
    import pickle, sys
    import numpy as np
    from numpy._core import multiarray, numeric
    from paddlex_interpret.priors.kmeans import KMeansFileError, cluster_centres_from_bytes

    class ForgedDtype:  # a dtype whose state says its object field holds plain bytes
        def __reduce__(self):
            return (np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0))

    class ForgedArray:
        def __reduce__(self):
            return (multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), ForgedDtype(), False, b"A" * 8))

    class Call:
        def __init__(self, fn, *args):
            self.fn, self.args = fn, args

        def __reduce__(self):
            return (self.fn, self.args)

    payloads = {
        "ndarray": Call(list, Call(np.ndarray, (1,), "O", b"A" * 8)),
        "frombuffer": Call(str, Call(numeric._frombuffer, b"A" * 8, ForgedDtype(), (1,), "C")),
        "setstate": Call(str, ForgedArray()),
        "scalar": Call(str, Call(multiarray.scalar, ForgedDtype(), b"A" * 8)),
    }
    try:
        cluster_centres_from_bytes(pickle.dumps(payloads[sys.argv[1]], protocol=4))
    except KMeansFileError as exc:
        print("refused:", exc)
""")


@pytest.mark.parametrize("kind", ["ndarray", "frombuffer", "setstate", "scalar"])
def test_kmeans_reader_refuses_forged_object_pointers(kind):
    """Raw bytes turned into object pointers (an object dtype from a buffer, or a dtype whose pickled
    state hides its object field) would crash the interpreter; run in a subprocess to see it."""
    proc = subprocess.run([sys.executable, "-c", _FORGED, kind], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"crashed with {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("refused:"), proc.stdout + proc.stderr[-2000:]


# --- prior assets and a loopback HTTP server --------------------------------------------------

@pytest.fixture(scope="module")
def asset_files():
    rng = np.random.default_rng(0)
    files = {}
    for name, shape in PARAM_SHAPES.items():
        value = rng.normal(0, 0.2, size=shape).astype(np.float32)
        files[name] = lod_tensor_to_bytes(np.abs(value) + 0.5 if name.endswith("_variance") else value)
    files[KMEANS_FILE] = pickle.dumps({"cluster_centers_": rng.normal(size=(5, 128))})
    return files


def make_tar(files, extra=(), mode="w:gz", prefix="pre_models/"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()


def md5(data):
    return hashlib.md5(data).hexdigest()


class _Routes:
    def __init__(self):
        self.routes, self.lock = {}, threading.Lock()
        self.requests = []  # (path, start, last) in time.time(); last: when the final chunk was sent
        self.in_flight = self.max_in_flight = 0
        self.gate, self.release, self.seen = threading.Event(), threading.Event(), threading.Event()

    def add(self, path, body, mode="ok"):
        self.routes[path] = (body, mode)
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path):
        return sum(1 for p, _, _ in self.requests if p == path)


def _handler(routes):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path not in routes.routes:
                self.send_error(404)
                return
            body, mode = routes.routes[self.path]
            with routes.lock:
                index = len(routes.requests)
                routes.requests.append((self.path, time.time(), None))
                routes.in_flight += 1
                routes.max_in_flight = max(routes.max_in_flight, routes.in_flight)
            routes.seen.set()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "hang":  # half the body, then nothing until the test ends
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    routes.release.wait(60)
                    return
                step = max(1, len(body) // 10)
                chunks = [body[i:i + step] for i in range(0, len(body), step)] if mode == "gate" else [body]
                if mode == "gate":  # nothing until the test opens the gate, then the body slowly
                    routes.gate.wait(60)
                for i, chunk in enumerate(chunks):
                    if i == len(chunks) - 1:
                        with routes.lock:
                            routes.requests[index] = (self.path, routes.requests[index][1], time.time())
                    else:
                        time.sleep(0.03)
                    self.wfile.write(chunk)
                    self.wfile.flush()
            finally:
                with routes.lock:
                    routes.in_flight -= 1

    return Handler


@pytest.fixture
def server():
    routes = _Routes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    httpd.daemon_threads = True
    routes.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield routes
    routes.release.set()
    routes.gate.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)



def _special(name, kind):
    info = tarfile.TarInfo(name)
    info.type = {"hard-link": tarfile.LNKTYPE, "character-device": tarfile.CHRTYPE,
                 "block-device": tarfile.BLKTYPE, "FIFO": tarfile.FIFOTYPE}[kind]
    if kind == "hard-link":
        info.linkname = "pre_models/" + KMEANS_FILE
    else:
        info.devmajor, info.devminor = 1, 3
    return info


def _refused(server, cache, data, name, match):
    url = server.add(f"/{name}.tar.gz", data)
    with pytest.raises(PriorArchiveError, match=match) as info:
        ensure_prior_assets(url=url, md5=md5(data), cache_dir=cache, progress=False)
    assert "nothing was cached and the downloaded tarball was deleted" in str(info.value)
    assert url in str(info.value)
    assert not cache.exists() and leftovers(cache) == []
    return info.value


@pytest.mark.parametrize("kind", ["hard-link", "character-device", "block-device", "FIFO"])
def test_links_devices_and_fifos_are_refused(server, asset_files, cache, kind):
    data = make_tar(asset_files, extra=[_special("pre_models/evil", kind)])
    error = _refused(server, cache, data, kind, f"refusing {kind} member 'pre_models/evil'")
    assert "only regular files and folders" in str(error)


def test_member_over_the_size_limit_is_refused_from_its_header(server, cache):
    """A header claiming more than MAX_MEMBER_BYTES (no data follows: the limit is applied before
    anything would be decompressed or written)."""
    info = tarfile.TarInfo("pre_models/huge")
    info.size = download.MAX_MEMBER_BYTES + 1
    data = gzip.compress(info.tobuf(tarfile.GNU_FORMAT) + b"\0" * (2 * tarfile.BLOCKSIZE))
    _refused(server, cache, data, "huge", rf"refusing member 'pre_models/huge' of {info.size} bytes: over the "
                                          rf"limit of {download.MAX_MEMBER_BYTES} bytes per member")


def test_archive_over_the_total_limit_is_refused(server, asset_files, cache, monkeypatch):
    total = sum(len(d) for d in asset_files.values())
    monkeypatch.setattr(download, "MAX_EXTRACTED_BYTES", total - 1)
    data = make_tar(asset_files)
    _refused(server, cache, data, "total", rf"would extract to more than {total - 1} bytes")
    monkeypatch.setattr(download, "MAX_MEMBER_BYTES", 1000)
    _refused(server, cache, data, "member", r"over the limit of 1000 bytes per member")


def test_not_gzip_not_tar_and_missing_assets_are_refused(server, asset_files, cache):
    _refused(server, cache, make_tar(asset_files, mode="w"), "plain-tar", "not gzip-compressed")
    _refused(server, cache, make_tar(asset_files, mode="w:bz2"), "bz2", "not gzip-compressed")
    _refused(server, cache, gzip.compress(b"not a tar archive " * 100), "not-tar", "does not hold a tar archive")
    _refused(server, cache, b"\x1f\x8b" + b"garbage" * 100, "bad-gzip", "broken gzip data")
    _refused(server, cache, b"", "empty", "not gzip-compressed .*is empty")
    partial = {KMEANS_FILE: asset_files[KMEANS_FILE]}
    error = _refused(server, cache, make_tar(partial), "partial", "does not hold valid prior assets")
    assert "missing 'for_kmeans_conv1_1_weights'" in str(error)
    # and the good archive still installs
    data = make_tar(asset_files)
    assert ensure_prior_assets(url=server.add("/good.tar.gz", data), md5=md5(data), cache_dir=cache,
                               progress=False) == cache
    assert assets_valid(cache) and leftovers(cache) == ["pre_models"]


def test_bad_hand_placed_tarball_is_left_in_place(asset_files, cache, closed_port_url):
    data = make_tar(asset_files, extra=[_special("pre_models/fifo", "FIFO")])
    tarball = expected_tarball_path(cache)
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(data)
    with pytest.raises(PriorArchiveError, match="refusing FIFO member 'pre_models/fifo'") as info:
        ensure_prior_assets(url=closed_port_url, md5=md5(data), cache_dir=cache, progress=False)
    assert f"the tarball '{tarball}' was left in place" in str(info.value)
    assert not cache.exists() and leftovers(cache) == [TARBALL_NAME] and tarball.read_bytes() == data


# --- locks ------------------------------------------------------------------------------------

_WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from paddlex_interpret.priors import download

    url, md5, cache, mode, stamps = sys.argv[1:6]
    if mode == "portable":
        download._fcntl = download._msvcrt = None
    Path(stamps + ".start").write_text(repr(time.time()))
    try:
        download.ensure_prior_assets(url=url, md5=md5, cache_dir=cache, progress=False)
    except download.PriorAssetsError as exc:
        print("FAILED:", exc)
        sys.exit(3)
    finally:
        Path(stamps + ".end").write_text(repr(time.time()))
""")


def _worker(url, digest, cache, mode, stamps):
    return subprocess.Popen([sys.executable, "-c", _WORKER, url, digest, str(cache), mode, str(stamps)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _stamp(stamps, which):
    return float(Path(f"{stamps}.{which}").read_text())


@POSIX
@pytest.mark.parametrize("mode", ["native", "portable"])
def test_lock_of_a_killed_process_is_recovered(server, asset_files, cache, tmp_path, mode):
    data = make_tar(asset_files)
    hang = server.add("/hang.tar.gz", data, mode="hang")
    victim = _worker(hang, md5(data), cache, mode, tmp_path / "victim")
    try:
        assert server.seen.wait(60), victim.communicate(timeout=5)[0]
        victim.send_signal(signal.SIGKILL)  # mid-download, holding the lock
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)
    assert victim.returncode == -signal.SIGKILL
    left = leftovers(cache)
    assert any(name.endswith(".part") for name in left)
    if mode == "portable":
        assert (cache.parent / (LOCK_NAME + ".excl")).read_text().split()[0] == str(victim.pid)
    good = server.add("/good.tar.gz", data)
    proc = subprocess.run([sys.executable, "-c", _WORKER, good, md5(data), str(cache), mode, str(tmp_path / "next")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert assets_valid(cache) and leftovers(cache) == ["pre_models"]


@POSIX
@pytest.mark.parametrize("owner", ["live-process", "other-host", "being-written"])
def test_portable_lock_of_a_live_holder_is_respected(tmp_path, monkeypatch, owner):
    monkeypatch.setattr(download, "_fcntl", None)
    monkeypatch.setattr(download, "_msvcrt", None)
    path = tmp_path / LOCK_NAME
    excl = tmp_path / (LOCK_NAME + ".excl")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        text = {"live-process": f"{holder.pid} {socket.gethostname()}", "other-host": "1 another-host",
                "being-written": ""}[owner]
        excl.write_text(text)
        with pytest.raises(PriorAssetsError, match="timed out"):
            with download._CacheLock(path, timeout=0.5):
                pass
        assert excl.read_text() == text
    finally:
        holder.kill()
        holder.wait(10)
    if owner == "live-process":  # once the holder is gone, its lock is taken over
        with download._CacheLock(path, timeout=10):
            assert excl.read_text().split()[0] == str(os.getpid())
        assert not excl.exists()


@POSIX
def test_second_process_waits_for_the_first_download(server, asset_files, cache, tmp_path):
    data = make_tar(asset_files)
    url = server.add("/gated.tar.gz", data, mode="gate")
    stamps = [tmp_path / "a", tmp_path / "b"]
    procs = [_worker(url, md5(data), cache, "native", s) for s in stamps]
    try:
        _wait_for(lambda: all(Path(f"{s}.start").exists() for s in stamps) and server.seen.is_set())
        time.sleep(1.0)  # the second process is now waiting for the lock
        server.gate.set()
        outputs = [p.communicate(timeout=60)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert server.count("/gated.tar.gz") == 1 and server.max_in_flight == 1
    (_, _, last_chunk), = server.requests
    for s in stamps:
        assert _stamp(s, "start") < last_chunk < _stamp(s, "end")  # both raced; neither finished early
    assert assets_valid(cache) and leftovers(cache) == ["pre_models"]


@POSIX
def test_downloads_are_serialised_by_the_lock(server, asset_files, cache, tmp_path):
    """The first process downloads a tarball whose md5 it will reject; the second, started while
    the first holds the lock, must not start its own download until the first has finished."""
    data = make_tar(asset_files)
    first = _worker(server.add("/first.tar.gz", data, mode="gate"), "0" * 32, cache, "native", tmp_path / "a")
    second = None
    try:
        assert server.seen.wait(60), first.communicate(timeout=5)[0]
        second = _worker(server.add("/second.tar.gz", data), md5(data), cache, "native", tmp_path / "b")
        _wait_for(lambda: Path(f"{tmp_path / 'b'}.start").exists())
        time.sleep(1.0)
        assert server.count("/second.tar.gz") == 0  # waiting for the lock, not downloading
        server.gate.set()
        out_first = first.communicate(timeout=60)[0]
        out_second = second.communicate(timeout=60)[0]
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
    assert first.returncode == 3 and "checksum mismatch" in out_first
    assert second.returncode == 0, out_second
    (p1, _, last1), (p2, start2, _) = server.requests
    assert (p1, p2) == ("/first.tar.gz", "/second.tar.gz") and server.max_in_flight == 1
    assert start2 > last1
    assert assets_valid(cache) and leftovers(cache) == ["pre_models"]


# --- atomic_write -----------------------------------------------------------------------------

@POSIX
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_gives_the_umask_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "out.txt") as tmp:
            tmp.write_text("data")
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("data")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == mode
    assert (tmp_path / "plain.txt").stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "plain.txt"]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_atomic_write_leaves_nothing_when_the_block_fails(tmp_path, error):
    target = tmp_path / "out.npz"
    with pytest.raises(error):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half")
            raise error("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(error):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"new")
            raise error("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"] and target.read_bytes() == b"old"


def test_atomic_write_leaves_no_temporary_when_the_replace_fails(tmp_path):
    target = tmp_path / "taken"
    (target / "inside").mkdir(parents=True)  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and (target / "inside").is_dir()


# --- the test session's home ------------------------------------------------------------------

@POSIX
def test_home_is_private_to_the_test_session(tmp_path_factory, monkeypatch, tmp_path):
    base = tmp_path_factory.getbasetemp().resolve()
    assert base in Path.home().resolve().parents
    assert base in Path(os.path.expanduser("~")).resolve().parents
    assert download.legacy_paddlex_dir() == Path.home() / ".paddlex" / "pre_models"
    monkeypatch.setenv("HOME", str(tmp_path))  # resolved at call time, not import time
    assert download.legacy_paddlex_dir() == tmp_path / ".paddlex" / "pre_models"
    proc = subprocess.run([sys.executable, "-c", "from pathlib import Path; print(Path.home())"],
                          capture_output=True, text=True, timeout=60)
    assert Path(proc.stdout.strip()) == tmp_path
