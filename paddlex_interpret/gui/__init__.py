"""The explain button: a local web page and a JSON API over the engine's methods.

``paddlex-interpret gui --model [NAME=]PATH ...`` starts it (:func:`serve`);
``create_app(models=...)`` returns the ASGI application for another GUI to mount. The API and
its safety checks are described in ``docs/gui.md``. Needs the ``gui`` extra (FastAPI, uvicorn,
python-multipart); nothing is imported from it until :func:`create_app` is called.
"""
from __future__ import annotations

__all__ = ["create_app", "serve", "page_url"]


def create_app(models=None, **options):
    """The ASGI application; see :func:`paddlex_interpret.gui.app.create_app` for the options."""
    from .app import create_app as _create_app

    return _create_app(models, **options)


def page_url(app, host: str = "127.0.0.1", port: int = 8765) -> str:
    """The page's URL with the application's token."""
    from .server import page_url as _page_url

    return _page_url(app, host, port)


def serve(models=None, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False,
          allow_remote: bool = False, **options):
    """Run the application with uvicorn until interrupted; see :func:`paddlex_interpret.gui.server.serve`."""
    from .server import serve as _serve

    return _serve(models, host=host, port=port, open_browser=open_browser, allow_remote=allow_remote, **options)

