"""Fetch, verify, extract and cache NormLIME's prior assets (``pre_models.tar.gz``).

The tarball PaddleX downloads ("Kmeans and ResNet50_vc prior weights") holds
``kmeans_model.pkl`` and the 15 legacy LoDTensor parameter files of the three-convolution stem
(``for_kmeans_conv1_{1,2,3}_weights``, ``for_kmeans_bnv1_{1,2,3}_{scale,offset,mean,variance}``).

Where the assets are looked for, in order:

1. an existing valid ``~/.paddlex/pre_models`` (PaddleX's own cache; reused, never modified);
2. ``$PADDLEX_INTERPRET_HOME/pre_models`` (default ``~/.paddlex_interpret/pre_models``), or the
   ``cache_dir`` given to :func:`ensure_prior_assets`.

When the cache is missing or fails validation (every file present, readable, of the expected
shape), the tarball is taken from ``<cache parent>/pre_models.tar.gz`` if someone placed it there
by hand and its md5 matches, else downloaded (to a temporary file, with a progress bar), its md5
checked, extracted safely into a temporary folder next to the cache, validated, and renamed into
place. A failure at any step leaves no partial tarball and no half-written folder behind; a
downloaded tarball that fails is deleted, a hand-placed one is never touched (the error says which).

The archive must be a gzip-compressed tar holding only regular files and folders: absolute paths,
``..`` members, symbolic and hard links, device files and FIFOs are refused, as are more than
``MAX_MEMBERS`` members, a member over ``MAX_MEMBER_BYTES`` and more than ``MAX_EXTRACTED_BYTES`` in
all. Every header is checked before anything is written (a huge member is refused from its header,
before it is decompressed). These problems raise :class:`PriorArchiveError`.

Concurrency: the whole repair runs under an exclusive lock on ``<cache parent>/.pre_models.lock``.
On Linux and macOS that is ``fcntl.flock`` (advisory, released by the OS if the process dies; on
network file systems it is only as good as their lock support). On Windows it is
``msvcrt.locking`` on the lock file's first byte. Elsewhere a portable fallback creates
``.pre_models.lock.excl`` exclusively (``O_CREAT | O_EXCL``) holding ``<pid> <host>``; it is
abandoned when that process no longer runs on this host, or when it is older than
``STALE_LOCK_S`` (a holder on another host, a reused pid). A process that finds a valid cache never
takes the lock.

Mirrors and intranets: pass ``url=`` / ``md5=`` or set ``PADDLEX_INTERPRET_PRIOR_URL`` /
``PADDLEX_INTERPRET_PRIOR_MD5`` (arguments win over the environment). ``http``, ``https`` and
``file`` URLs are accepted.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import logging
import os
import re
import secrets
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path, PurePosixPath
from typing import List, Optional, Tuple

import numpy as np

from .._home import home_dir
from .kmeans import KMeansFileError, load_cluster_centres
from .legacy_tensor import LegacyTensorFormatError, read_lod_tensor

__all__ = [
    "ensure_prior_assets",
    "asset_problems",
    "assets_valid",
    "default_cache_dir",
    "legacy_paddlex_dir",
    "expected_tarball_path",
    "PriorAssetsError",
    "PriorArchiveError",
    "DEFAULT_URL",
    "DEFAULT_MD5",
    "URL_ENV",
    "MD5_ENV",
    "TARBALL_NAME",
    "FOLDER_NAME",
    "KMEANS_FILE",
    "PARAM_SHAPES",
    "FEATURE_DIM",
]

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://bj.bcebos.com/paddlex/interpret/pre_models.tar.gz"
DEFAULT_MD5 = "9375cab3b7200365b01b1dd2bc025935"
URL_ENV = "PADDLEX_INTERPRET_PRIOR_URL"
MD5_ENV = "PADDLEX_INTERPRET_PRIOR_MD5"
TARBALL_NAME = "pre_models.tar.gz"
FOLDER_NAME = "pre_models"
KMEANS_FILE = "kmeans_model.pkl"
FEATURE_DIM = 128  # centroid feature (64) + mean feature (64) of the stem output

_STEM = (("1", 3, 32), ("2", 32, 32), ("3", 32, 64))
#: the 15 parameter files and the shapes the ResNet50_vc stem gives them
PARAM_SHAPES = {}
for _i, _cin, _cout in _STEM:
    PARAM_SHAPES[f"for_kmeans_conv1_{_i}_weights"] = (_cout, _cin, 3, 3)
    for _kind in ("scale", "offset", "mean", "variance"):
        PARAM_SHAPES[f"for_kmeans_bnv1_{_i}_{_kind}"] = (_cout,)

TIMEOUT_S = 60.0  # socket connect/read timeout of the download
LOCK_TIMEOUT_S = 3600.0  # how long to wait for another process's download
STALE_LOCK_S = 7200.0  # portable fallback lock only
MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 512 << 20
MAX_EXTRACTED_BYTES = 4 << 30
_CHUNK = 1 << 16


class PriorAssetsError(RuntimeError):
    """The prior assets could not be obtained (download, checksum, archive or content)."""


class PriorArchiveError(PriorAssetsError):
    """The tarball is unsafe (a refused member, too large), not a tar.gz, or lacks the assets."""


# --- locations --------------------------------------------------------------------------------

def legacy_paddlex_dir() -> Path:
    """PaddleX's own cache folder, ``~/.paddlex/pre_models`` (reused when valid)."""
    return Path.home() / ".paddlex" / FOLDER_NAME


def default_cache_dir() -> Path:
    """``$PADDLEX_INTERPRET_HOME/pre_models`` (default ``~/.paddlex_interpret/pre_models``)."""
    return home_dir() / FOLDER_NAME


def expected_tarball_path(cache_dir=None) -> Path:
    """Where a hand-downloaded ``pre_models.tar.gz`` is picked up: next to the cache folder."""
    return Path(cache_dir or default_cache_dir()).expanduser().absolute().parent / TARBALL_NAME


# --- validation -------------------------------------------------------------------------------

def asset_problems(folder) -> List[str]:
    """What is wrong with ``folder`` as a prior-asset folder; an empty list means valid.

    Every parameter file must be a readable legacy LoDTensor of the expected shape with finite
    values, and ``kmeans_model.pkl`` must give ``(n_clusters, 128)`` finite centres."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"'{folder}' is not a folder"]
    problems = []
    for name, shape in PARAM_SHAPES.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"missing '{name}'")
            continue
        try:
            value = read_lod_tensor(path)
        except (LegacyTensorFormatError, OSError) as exc:
            problems.append(f"unreadable '{name}': {exc}")
            continue
        if value.shape != shape or value.dtype.kind != "f":
            problems.append(f"'{name}' is {value.dtype}{list(value.shape)}, expected float{list(shape)}")
        elif not np.isfinite(value).all():
            problems.append(f"'{name}' contains NaN or infinity")
    path = folder / KMEANS_FILE
    if not path.is_file():
        problems.append(f"missing '{KMEANS_FILE}'")
    else:
        try:
            centres = load_cluster_centres(path)
        except (KMeansFileError, OSError) as exc:
            problems.append(f"unreadable '{KMEANS_FILE}': {exc}")
        else:
            if centres.shape[1] != FEATURE_DIM:
                problems.append(f"'{KMEANS_FILE}' has {centres.shape[1]}-d centres, expected {FEATURE_DIM}")
    return problems


def assets_valid(folder) -> bool:
    return not asset_problems(folder)


# --- lock -------------------------------------------------------------------------------------

try:
    import fcntl as _fcntl
except ImportError:  # Windows
    _fcntl = None
try:
    import msvcrt as _msvcrt
except ImportError:  # POSIX
    _msvcrt = None


def _pid_alive(pid: int) -> Optional[bool]:
    """Whether process ``pid`` runs on this host; None when that cannot be told."""
    if pid <= 0 or os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def _lock_owner() -> str:
    return f"{os.getpid()} {socket.gethostname()}"


class _CacheLock:
    """Exclusive inter-process lock on ``path`` (see the module docstring)."""

    def __init__(self, path: Path, timeout: Optional[float] = None, poll: float = 0.1):
        self.path, self.poll = Path(path), poll
        self.timeout = LOCK_TIMEOUT_S if timeout is None else timeout
        self._fd: Optional[int] = None
        self._excl: Optional[Path] = None

    @property
    def _excl_path(self) -> Path:
        return self.path.with_name(self.path.name + ".excl")

    def _try(self) -> bool:
        if _fcntl is not None:
            try:
                _fcntl.flock(self._fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return False
                raise
        if _msvcrt is not None:
            try:
                os.lseek(self._fd, 0, os.SEEK_SET)
                _msvcrt.locking(self._fd, _msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                return False
        excl = self._excl_path
        try:
            fd = os.open(excl, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            self._break_if_stale(excl)
            return False
        try:
            os.write(fd, _lock_owner().encode())
        finally:
            os.close(fd)
        self._excl = excl
        return True

    @staticmethod
    def _is_stale(text: str, mtime: float) -> bool:
        if time.time() - mtime > STALE_LOCK_S:
            return True
        pid, _, host = text.strip().partition(" ")
        return pid.isdigit() and host == socket.gethostname() and _pid_alive(int(pid)) is False

    def _break_if_stale(self, excl: Path) -> None:
        """Remove ``excl`` if its holder is gone; a lock taken meanwhile by a live process is put back."""
        try:
            before = excl.stat()
            text = excl.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        if not self._is_stale(text, before.st_mtime):
            return
        logger.warning("removing the abandoned lock '%s' (held by %s)", excl, text.strip() or "an unknown process")
        grave = excl.with_name(f"{excl.name}.stale-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.rename(excl, grave)
        except OSError:
            return
        try:
            moved = grave.stat()
            if (moved.st_ino, moved.st_dev) != (before.st_ino, before.st_dev):
                try:
                    os.link(grave, excl)
                except OSError:
                    pass
        finally:
            grave.unlink(missing_ok=True)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        waited = False
        while not self._try():
            if not waited:
                logger.info("waiting for another process to finish preparing the prior assets (%s)", self.path)
                waited = True
            if time.monotonic() > deadline:
                os.close(self._fd)
                self._fd = None
                raise PriorAssetsError(
                    f"timed out after {self.timeout:.0f} s waiting for the lock '{self.path}' held by "
                    "another process preparing the prior assets")
            time.sleep(self.poll)
        return self

    def __exit__(self, *exc):
        try:
            if self._excl is not None:
                self._excl.unlink(missing_ok=True)
                self._excl = None
            elif _fcntl is not None:
                _fcntl.flock(self._fd, _fcntl.LOCK_UN)
            elif _msvcrt is not None:
                os.lseek(self._fd, 0, os.SEEK_SET)
                _msvcrt.locking(self._fd, _msvcrt.LK_UNLCK, 1)
        finally:
            os.close(self._fd)
            self._fd = None
        return False


# --- download ---------------------------------------------------------------------------------

def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _normalise_md5(value: str, source: str) -> str:
    md5 = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{32}", md5):
        raise ValueError(f"the expected md5 must be 32 hexadecimal digits, got {value!r} (from {source})")
    return md5


def _download(url: str, dest: Path, progress: bool) -> Tuple[int, str]:
    """Stream ``url`` into ``dest``; return (bytes received, md5). Raises on a short body."""
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "paddlex_interpret"})
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=TARBALL_NAME,
                  disable=not progress, leave=False) as bar:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise PriorAssetsError(
            f"the download from {url} was cut off: received {received} of {total} bytes")
    return received, digest.hexdigest()


def _place_by_hand_hint(url: str, md5: str, cache_dir: Path, tarball: Path) -> str:
    return (
        f"Without network access, download {TARBALL_NAME} (md5 {md5}) from {url} elsewhere and either\n"
        f"  - put the tarball at '{tarball}' (it is verified and extracted on the next call), or\n"
        f"  - extract it so that {KMEANS_FILE} and the 15 for_kmeans_* files are directly in '{cache_dir}'.\n"
        f"A mirror can be given with url=/md5= or the environment variables {URL_ENV} / {MD5_ENV}.")


# --- safe extraction --------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_ALLOWED_MEMBERS = "the archive may hold only regular files and folders"


def _member_kind(member: tarfile.TarInfo) -> str:
    for test, kind in ((member.issym, "symbolic-link"), (member.islnk, "hard-link"),
                       (member.ischr, "character-device"), (member.isblk, "block-device"), (member.isfifo, "FIFO")):
        if test():
            return kind
    return f"type-{member.type!r}"


def _member_parts(member: tarfile.TarInfo) -> Tuple[str, ...]:
    name = member.name
    if member.issym() or member.islnk():
        raise PriorArchiveError(
            f"refusing {_member_kind(member)} member '{name}' -> '{member.linkname}': {_ALLOWED_MEMBERS}")
    if not (member.isfile() or member.isdir()):
        raise PriorArchiveError(f"refusing {_member_kind(member)} member '{name}': {_ALLOWED_MEMBERS}")
    if "\\" in name or "\x00" in name:
        raise PriorArchiveError(f"refusing member with a suspicious name {name!r}")
    path = PurePosixPath(name)
    if name.startswith("/") or path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise PriorArchiveError(f"refusing absolute-path member '{name}': member paths must be relative")
    if ".." in path.parts:
        raise PriorArchiveError(f"refusing member '{name}' that climbs out of the folder ('..')")
    if member.isfile() and member.size > MAX_MEMBER_BYTES:
        raise PriorArchiveError(
            f"refusing member '{name}' of {member.size} bytes: over the limit of {MAX_MEMBER_BYTES} bytes per "
            "member (MAX_MEMBER_BYTES)")
    return tuple(p for p in path.parts if p not in ("", "."))


def _not_a_tar_gz(tar_path: Path, exc: Exception) -> PriorArchiveError:
    try:
        with gzip.open(tar_path, "rb") as f:
            f.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, zlib.error) as gz_exc:
        return PriorArchiveError(f"the archive is not a readable tar.gz: broken gzip data ({gz_exc})")
    return PriorArchiveError(f"the archive is not a readable tar.gz: its gzip data does not hold a tar archive ({exc})")


def _plan_members(tar: tarfile.TarFile) -> List[Tuple[tarfile.TarInfo, Tuple[str, ...]]]:
    """Check every header as it is read (before the next member is decompressed)."""
    planned, total, kinds = [], 0, {}
    for member in tar:
        if len(planned) >= MAX_MEMBERS:
            raise PriorArchiveError(f"the archive has more than {MAX_MEMBERS} members (MAX_MEMBERS); refusing it")
        parts = _member_parts(member)
        if member.isfile():
            total += member.size
            if total > MAX_EXTRACTED_BYTES:
                raise PriorArchiveError(
                    f"the archive would extract to more than {MAX_EXTRACTED_BYTES} bytes (MAX_EXTRACTED_BYTES); "
                    f"refusing it at member '{member.name}'")
        for i in range(1, len(parts)):
            if kinds.get(parts[:i]) == "file":
                raise PriorArchiveError(f"refusing member '{member.name}': '{'/'.join(parts[:i])}' is a file "
                                        "in the archive, not a folder")
        kind = "folder" if member.isdir() else "file"
        if parts and kinds.setdefault(parts, kind) != kind:
            raise PriorArchiveError(f"refusing member '{member.name}': the archive has both a file and a folder there")
        planned.append((member, parts))
    return planned


def _safe_extract(tar_path: Path, dest: Path) -> None:
    """Extract regular files and folders of the tar.gz ``tar_path`` into ``dest``; every member is
    checked before anything is written. Messages do not name ``tar_path`` (the caller says where
    the archive came from)."""
    dest = dest.resolve()
    with open(tar_path, "rb") as f:
        head = f.read(len(_GZIP_MAGIC))
    if head != _GZIP_MAGIC:
        found = f"starts with {head!r}" if head else "is empty"
        raise PriorArchiveError(f"the archive is not gzip-compressed (it {found}; a .tar.gz starts with {_GZIP_MAGIC!r})")
    try:
        tar = tarfile.open(tar_path, "r:gz")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise _not_a_tar_gz(tar_path, exc) from None
    try:
        with tar:
            planned = _plan_members(tar)
            for member, parts in planned:
                if not parts:
                    continue
                target = dest.joinpath(*parts)
                if dest not in target.resolve().parents:
                    raise PriorArchiveError(f"refusing member '{member.name}' outside the folder")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise PriorArchiveError(f"the archive is not a readable tar.gz: {exc}") from None
    except OSError as exc:
        raise PriorAssetsError(f"could not extract the archive into '{dest}': {exc}") from None


def _locate_assets(root: Path) -> Path:
    """The extracted folder that holds the assets (``pre_models/`` in PaddleX's tarball)."""
    candidates = [root / FOLDER_NAME, root]
    candidates += sorted(p for p in root.glob("*") if p.is_dir())
    candidates += sorted(p for p in root.glob("*/*") if p.is_dir())
    for folder in candidates:
        if (folder / KMEANS_FILE).is_file():
            return folder
    return root / FOLDER_NAME if (root / FOLDER_NAME).is_dir() else root


def _replace_dir(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target`` with renames only (same file system)."""
    trash = None
    if target.exists() or target.is_symlink():
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        trash.rmdir()
        os.replace(target, trash)
    try:
        os.replace(new, target)
    except BaseException:
        if trash is not None and not target.exists():
            os.replace(trash, target)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True) if trash.is_dir() else trash.unlink(missing_ok=True)


def _clean_orphans(parent: Path, name: str) -> None:
    """Remove temporaries left by a process killed mid-repair (only called under the lock)."""
    for pattern in (f".{TARBALL_NAME}.*.part", f".{name}.tmp-*", f".{name}.old-*"):
        for path in parent.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _install(url: str, md5: str, cache_dir: Path, progress: bool) -> None:
    parent = cache_dir.parent
    tarball = expected_tarball_path(cache_dir)
    hint = _place_by_hand_hint(url, md5, cache_dir, tarball)
    temp_tar: Optional[Path] = None
    temp_dir: Optional[Path] = None
    note = ""
    try:
        source = None
        if tarball.is_file():
            actual = _md5_of(tarball)
            if actual == md5:
                logger.info("using the hand-placed tarball %s", tarball)
                source = tarball
            else:
                note = f"\n(The tarball at '{tarball}' was ignored: its md5 is {actual}, expected {md5}.)"
                logger.warning("ignoring %s: md5 %s, expected %s", tarball, actual, md5)
        if source is None:
            fd, name = tempfile.mkstemp(prefix=f".{TARBALL_NAME}.", suffix=".part", dir=parent)
            os.close(fd)
            temp_tar = Path(name)
            logger.info("downloading the NormLIME prior assets from %s", url)
            try:
                size, actual = _download(url, temp_tar, progress)
            except PriorAssetsError as exc:
                raise PriorAssetsError(f"{exc}.\n{hint}{note}") from None
            except urllib.error.HTTPError as exc:
                raise PriorAssetsError(
                    f"could not download the prior assets from {url}: HTTP {exc.code} {exc.reason}.\n{hint}{note}"
                ) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise PriorAssetsError(
                    f"could not download the prior assets from {url}: {reason}.\n{hint}{note}") from None
            if actual != md5:
                raise PriorAssetsError(
                    f"checksum mismatch for {TARBALL_NAME} downloaded from {url} ({size} bytes): "
                    f"expected md5 {md5}, actual md5 {actual}. Nothing was cached. If this mirror serves a "
                    f"different build on purpose, pass md5= or set {MD5_ENV}.")
            source = temp_tar
        temp_dir = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.tmp-", dir=parent))
        origin = url if source is temp_tar else f"'{source}'"
        fate = ("the downloaded tarball was deleted" if source is temp_tar
                else f"the tarball '{source}' was left in place")
        try:
            _safe_extract(source, temp_dir)
            folder = _locate_assets(temp_dir)
            problems = asset_problems(folder)
            if problems:
                raise PriorArchiveError("the archive does not hold valid prior assets: " + "; ".join(problems))
        except PriorAssetsError as exc:
            raise type(exc)(f"{exc}\n(archive from {origin}; nothing was cached and {fate}.)") from None
        _replace_dir(folder, cache_dir)
    finally:
        if temp_tar is not None:
            temp_tar.unlink(missing_ok=True)
        if temp_dir is not None and temp_dir.exists():
            shutil.rmtree(temp_dir, ignore_errors=True)


def ensure_prior_assets(url: Optional[str] = None, md5: Optional[str] = None, cache_dir=None,
                        progress: bool = True) -> Path:
    """Return the folder holding valid NormLIME prior assets, fetching them when needed.

    Parameters
    ----------
    url, md5 : str, optional
        Where to download ``pre_models.tar.gz`` and its expected md5. Default: the environment
        variables ``PADDLEX_INTERPRET_PRIOR_URL`` / ``PADDLEX_INTERPRET_PRIOR_MD5``, else PaddleX's
        URL and md5.
    cache_dir : path, optional
        The asset folder to use and (re)build. Default: a valid ``~/.paddlex/pre_models`` if there
        is one, else ``$PADDLEX_INTERPRET_HOME/pre_models``.
    progress : bool
        Show a download progress bar.

    Raises
    ------
    PriorAssetsError
        When the download fails or is cut off (the message says where to place the tarball by
        hand), the checksum differs (expected and actual md5), or the archive is unsafe or lacks
        the assets. Nothing partial is left in the cache.
    """
    url_source = "the url argument" if url else (URL_ENV if os.environ.get(URL_ENV) else "the default")
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    md5_source = "the md5 argument" if md5 else (MD5_ENV if os.environ.get(MD5_ENV) else "the default")
    md5 = _normalise_md5(md5 or os.environ.get(MD5_ENV) or DEFAULT_MD5, md5_source)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL {url!r} (from {url_source}): use http, https or file")

    if cache_dir is None:
        legacy = legacy_paddlex_dir()
        if legacy is not None and Path(legacy).is_dir() and assets_valid(legacy):
            return Path(legacy)
        cache_dir = default_cache_dir()
    cache_dir = Path(cache_dir).expanduser().absolute()
    if assets_valid(cache_dir):
        return cache_dir

    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with _CacheLock(cache_dir.parent / f".{cache_dir.name}.lock"):
        problems = asset_problems(cache_dir)  # another process may have just built it
        if not problems:
            return cache_dir
        _clean_orphans(cache_dir.parent, cache_dir.name)
        if cache_dir.exists():
            logger.warning("the prior-asset cache '%s' is corrupt (%s); rebuilding it", cache_dir, "; ".join(problems))
        _install(url, md5, cache_dir, progress)
    return cache_dir
