"""The ASGI application: the page, the JSON API and the checks in front of them (see docs/gui.md)."""
import io
import ipaddress
import json
import secrets
import tempfile
import threading
import weakref
from collections import OrderedDict
from contextlib import asynccontextmanager
from pathlib import Path, PurePath
from typing import Any, Iterable, Optional

from .catalog import ParameterError, coerce_params, expected_samples, method_catalog, method_parameters, resolve_models
from .jobs import Job, JobManager, UnknownJob, new_id

__all__ = ["create_app", "DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_MAX_PIXELS", "DEFAULT_MAX_TEXT_CHARS", "TOKEN_HEADER"]

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 24_000_000
DEFAULT_MAX_TEXT_CHARS = 2000
TOKEN_HEADER = "X-PXI-Token"
_IMAGE_FORMATS = {"PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM"}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_STATIC = Path(__file__).parent / "static"
_STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
                 "index.html": "text/html; charset=utf-8"}
_DOWNLOADS = {"png": ("image/png", "figure.png"), "npz": ("application/octet-stream", "explanation.npz"),
              "html": ("text/html; charset=utf-8", "explanation.html")}
#: the page may load its own script, style and images and talk to its own server, nothing else
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        "form-action 'none'; frame-ancestors 'self'; base-uri 'none'")
_MAX_INPUTS = 16  # decoded uploads kept for new runs (a queued run holds its own)
#: the page shell (no data in it): the only paths served without the token
_PUBLIC = {"/", "/static/app.js", "/static/style.css"}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class _Inputs:
    """Uploaded images / texts by random id (the last ``_MAX_INPUTS``)."""

    def __init__(self):
        self._items: "OrderedDict[str, dict]" = OrderedDict()
        self._lock = threading.Lock()

    def add(self, item: dict) -> str:
        item_id = new_id()
        with self._lock:
            self._items[item_id] = item
            while len(self._items) > _MAX_INPUTS:
                self._items.popitem(last=False)
        return item_id

    def get(self, item_id) -> dict:
        with self._lock:
            item = self._items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise ApiError(404, f"unknown input {item_id!r}: upload the image (or text) again")
        return item


def _host_name(value: str) -> str:
    """The host part of a Host header or an origin's authority (``[::1]:8000`` -> ``::1``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value


def _display_name(filename: Optional[str]) -> str:
    """A file name for display only: its last component, without control characters, at most 100 characters."""
    name = PurePath(str(filename or "")).name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:100]
    return name or "image"


def create_app(models=None, *, token: Optional[str] = None, allowed_hosts: Optional[Iterable[str]] = None,
               allowed_origins: Optional[Iterable[str]] = None, work_dir=None,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_text_chars: int = DEFAULT_MAX_TEXT_CHARS, max_runs: int = 200):
    """The explain-button application (FastAPI, ASGI): the page at ``/`` and the JSON API under ``/api``.

    Parameters
    ----------
    models : mapping name -> model, list of models, one model, or None (the demo model), default None
        What the page can explain, by id (the name; a path's folder name when no name is given).
        A model is anything :func:`paddlex_interpret.models.as_classifier` takes, a text classifier,
        a folder written by PaddleNLP's ``save_pretrained`` (paddlenlp is imported only then) or
        ``'demo'``. Models are loaded now, so a bad one fails here, not on the page.
    token : str, optional
        The secret every API request must carry (header ``X-PXI-Token`` or ``?token=``); default a
        new random one, readable as ``app.state.token``.
    allowed_hosts : iterable of str, optional
        Host names the server answers to (the Host header; DNS-rebinding protection). Default:
        127.0.0.1, localhost, ::1.
    allowed_origins : iterable of str, optional
        Origins (``scheme://host[:port]``) besides the server's own that may call the API, for a
        GUI that hosts the page elsewhere. Default: none.
    work_dir : path, optional
        Folder for the results (one random-id subfolder per run). Default: a new temporary folder,
        removed when the application is closed or garbage-collected.
    max_upload_bytes : int, default 20 MiB
    max_pixels : int, default 24 000 000
        Largest image (width x height) accepted; checked before the pixels are decoded.
    max_text_chars : int, default 2000
    max_runs : int, default 200
        Finished runs kept (the oldest are forgotten with their files).

    Returns
    -------
    fastapi.FastAPI
        ``app.state.token``, ``app.state.models`` (``{id: ModelEntry}``), ``app.state.jobs``
        (:class:`~paddlex_interpret.gui.jobs.JobManager`); ``app.state.close()`` stops the worker.
    """
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, Response
    except ImportError as exc:
        raise ImportError(f"the GUI needs FastAPI, uvicorn and python-multipart: "
                          f"pip install 'paddlex_interpret[gui]' ({exc})") from None
    for name, value in (("max_upload_bytes", max_upload_bytes), ("max_pixels", max_pixels),
                        ("max_text_chars", max_text_chars), ("max_runs", max_runs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    token = secrets.token_urlsafe(24) if token is None else token
    if not isinstance(token, str) or len(token) < 16:
        raise ValueError("token must be a str of at least 16 characters (default: a random one)")
    hosts = {h.lower() for h in (allowed_hosts or _LOCAL_HOSTS)}
    origins = {o.rstrip("/").lower() for o in (allowed_origins or ())}
    entries = resolve_models(models)
    if work_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="pxi-gui-")
        work = Path(temp.name)
    else:
        temp = None
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    inputs = _Inputs()
    manager = JobManager(entries, inputs, work, max_runs=max_runs)

    def close():
        manager.close()
        if temp is not None:
            temp.cleanup()

    @asynccontextmanager
    async def lifespan(_app):
        yield
        close()

    app = FastAPI(title="paddlex_interpret explain button", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.token, app.state.models, app.state.jobs, app.state.close = token, entries, manager, close
    app.state.limits = {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels,
                        "max_text_chars": max_text_chars}
    if temp is not None:
        weakref.finalize(app, temp.cleanup)

    def error(status: int, message: str):
        return JSONResponse({"error": message}, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = request.headers.get("host", "")
        if _host_name(host) not in hosts:
            return error(400, "this server answers only to " + ", ".join(sorted(hosts)) + " (Host header check)")
        origin = request.headers.get("origin")
        if origin is not None:
            own = f"{request.url.scheme}://{host}".lower()
            if origin.rstrip("/").lower() not in origins | {own}:
                return error(403, "requests from other web pages are refused (Origin check)")
        path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]  # mounted in another application
        if path not in _PUBLIC:  # everything but the page shell needs the token
            given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
            if not secrets.compare_digest(given.encode(), token.encode()):
                return error(403, "missing or wrong token: open the URL the server printed (it ends with ?token=...)")
        try:
            response = await call_next(request)
        except ApiError as exc:  # raised by a handler
            response = error(exc.status, exc.message)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return error(exc.status, exc.message)

    def static(name: str):
        return Response((_STATIC / name).read_bytes(), media_type=_STATIC_FILES[name])

    @app.get("/", include_in_schema=False)
    async def index():
        return static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str):
        if name not in _STATIC_FILES:
            raise ApiError(404, "no such file")
        return static(name)

    @app.get("/api/info")
    async def info():
        from .. import __version__

        return {"version": __version__, "limits": app.state.limits,
                "models": [e.public() for e in entries.values()]}

    @app.get("/api/models")
    async def list_models():
        return [e.public() for e in entries.values()]

    @app.get("/api/methods")
    async def list_methods():
        return {kind: method_catalog(kind) for kind in ("image", "text")}

    def model_of(model_id) -> Any:
        entry = entries.get(model_id) if isinstance(model_id, str) else None
        if entry is None:
            raise ApiError(404, f"unknown model {model_id!r}; the server has {sorted(entries)}")
        return entry

    async def read_upload(request: Request) -> dict:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise ApiError(411, "the upload needs a Content-Length")
        if int(length) > max_upload_bytes + 65536:
            raise ApiError(413, f"the upload is {int(length)} bytes; the limit is {max_upload_bytes} bytes")
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as exc:
            raise ApiError(400, f"expected a multipart form with a 'file' (an image) or a 'text' field ({exc})")
        upload, text = form.get("file"), form.get("text")
        try:
            if text is not None and not hasattr(text, "read"):
                return {"kind": "text", "text": _check_text(str(text))}
            if upload is None or not hasattr(upload, "read"):
                raise ApiError(400, "the form must hold a 'file' field (an image) or a 'text' field")
            data = await upload.read(max_upload_bytes + 1)
            if len(data) > max_upload_bytes:
                raise ApiError(413, f"the image file is larger than the limit of {max_upload_bytes} bytes")
            from starlette.concurrency import run_in_threadpool

            array = await run_in_threadpool(_decode_image, data, max_pixels)
            return {"kind": "image", "array": array, "name": _display_name(upload.filename)}
        finally:
            await form.close()

    def _check_text(text: str) -> str:
        if not text.strip():
            raise ApiError(400, "the text is empty; type a sentence to explain")
        if len(text) > max_text_chars:
            raise ApiError(413, f"the text has {len(text)} characters; the limit is {max_text_chars}")
        return text

    def input_public(item_id: str, item: dict) -> dict:
        out = {"id": item_id, "kind": item["kind"]}
        if item["kind"] == "image":
            out.update(name=item["name"], height=int(item["array"].shape[0]), width=int(item["array"].shape[1]))
        else:
            out.update(name="text", length=len(item["text"]))
        return out

    @app.post("/api/inputs")
    async def upload_input(request: Request):
        item = await read_upload(request)
        return input_public(inputs.add(item), item)

    async def json_body(request: Request) -> dict:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise ApiError(400, "the request body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body

    def new_job(model_id, method, params, input_id, text, group=None) -> Job:
        entry = model_of(model_id)
        valid = {m["name"]: m for m in entry.methods}
        if not isinstance(method, str) or method not in valid:
            raise ApiError(400, f"unknown method {method!r} for model {entry.id}; choose from {sorted(valid)}")
        if not valid[method]["available"]:
            raise ApiError(400, f"method {method} cannot run here: {valid[method]['reason']}")
        if input_id is None and isinstance(text, str):
            input_id = inputs.add({"kind": "text", "text": _check_text(text)})
        item = inputs.get(input_id)
        if item["kind"] != entry.kind:
            raise ApiError(400, f"model {entry.id} explains {entry.kind}s; the input {input_id} is a {item['kind']}")
        try:
            values = coerce_params(method, params)
        except ParameterError as exc:
            raise ApiError(422, str(exc)) from None
        defaults = {p["name"]: p["default"] for p in method_parameters(method)}
        shape = entry.classifier.image_as_explained(item["array"]).shape if entry.kind == "image" else None
        total = expected_samples(method, values, defaults, shape)
        if total is not None and entry.kind == "image":
            total += 1  # the top classes shown with the result
        name = item.get("name", "text")
        return manager.submit(Job(entry.id, method, values, input_id, name, total, group, data=item))

    @app.post("/api/explain")
    async def explain(request: Request):
        body = await json_body(request)
        job = new_job(body.get("model"), body.get("method"), body.get("params"), body.get("input"), body.get("text"))
        return manager.public(job)

    @app.post("/api/compare")
    async def compare(request: Request):
        body = await json_body(request)
        methods = body.get("methods")
        if not isinstance(methods, list) or not methods or len(methods) > 12:
            raise ApiError(400, "methods must be a list of 1 to 12 method names")
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ApiError(400, "params must be an object {method: {name: value}}")
        input_id = body.get("input")
        if input_id is None and isinstance(body.get("text"), str):
            input_id = inputs.add({"kind": "text", "text": _check_text(body["text"])})
        group = new_id()
        jobs = [new_job(body.get("model"), m, params.get(m) if isinstance(m, str) else None, input_id, None, group)
                for m in methods]
        return {"group": group, "jobs": [manager.public(j) for j in jobs]}

    def job_of(job_id: str) -> Job:
        try:
            return manager.get(job_id)
        except UnknownJob:
            raise ApiError(404, f"unknown run {job_id!r}") from None

    @app.get("/api/jobs")
    async def list_jobs():
        return manager.list()

    @app.get("/api/jobs/{job_id}")
    async def get_job(job_id: str):
        return manager.public(job_of(job_id))

    @app.post("/api/jobs/{job_id}/cancel")
    async def cancel_job(job_id: str):
        job_of(job_id)
        return manager.public(manager.cancel(job_id))

    @app.get("/api/jobs/{job_id}/files/{kind}")
    async def job_file(job_id: str, kind: str, download: int = 0):
        job = job_of(job_id)
        if kind not in _DOWNLOADS or kind not in job.files:
            raise ApiError(404, f"run {job_id} has no {kind!r} file; it has {sorted(job.files)}")
        media, filename = _DOWNLOADS[kind]
        disposition = "attachment" if (download or kind != "png") else "inline"
        stem = f"{job.method}_{job.id[:8]}"
        headers = {"Content-Disposition": f'{disposition}; filename="{stem}_{filename}"'}
        return Response(job.files[kind].read_bytes(), media_type=media, headers=headers)

    return app


def _decode_image(data: bytes, max_pixels: int):
    """uint8 RGB array of an uploaded image; the pixel count is checked before decoding."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ApiError(400, f"the upload is not an image this server can read ({type(exc).__name__})") from None
    with image:
        if image.format not in _IMAGE_FORMATS:
            raise ApiError(400, f"image format {image.format} is not accepted; use one of {sorted(_IMAGE_FORMATS)}")
        width, height = image.size
        if width * height > max_pixels:
            raise ApiError(413, f"the image has {width} x {height} = {width * height} pixels; "
                                f"the limit is {max_pixels}")
        try:
            image.load()
            rgb = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
            raise ApiError(400, f"the image could not be decoded ({type(exc).__name__}: {exc})") from None
        return np.asarray(rgb, dtype=np.uint8).copy()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
