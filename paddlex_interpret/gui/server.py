"""Running the application: the address checks, the printed URL, uvicorn."""
from __future__ import annotations

import sys
from typing import Optional

__all__ = ["serve", "page_url", "check_bind_host"]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def page_url(app, host: str = "127.0.0.1", port: int = 8765) -> str:
    """``http://host:port/?token=...`` for ``app`` (a wildcard host is shown as 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{_url_host(shown)}:{int(port)}/?token={app.state.token}"


def check_bind_host(host: str, allow_remote: bool) -> Optional[str]:
    """None for a loopback ``host``; the warning to print for another host when ``allow_remote``;
    a ValueError otherwise."""
    from .app import is_loopback

    if is_loopback(host):
        return None
    if not allow_remote:
        raise ValueError(f"host {host!r} would let other machines reach the server; the default is 127.0.0.1. "
                         "Pass --allow-remote (allow_remote=True) if you really want that")
    return (f"WARNING: serving on {host}: anyone who can reach this address and knows the token can run models "
            "and read results. The page is plain HTTP (not encrypted); prefer 127.0.0.1 with an SSH tunnel.")


def serve(models=None, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False,
          allow_remote: bool = False, log_level: str = "warning", **options) -> None:
    """Build the application for ``models`` (see :func:`~paddlex_interpret.gui.app.create_app`),
    print its URL (with the token) and serve it with uvicorn until Ctrl-C.

    Parameters
    ----------
    host : str, default '127.0.0.1'
        Another address only with ``allow_remote=True`` (a warning is printed); its name is
        then added to the Host check.
    port : int, default 8765
    open_browser : bool, default False
        Open the URL in the default browser.
    **options
        Passed to ``create_app`` (limits, ``work_dir``, ``token``, ``allowed_origins``).
    """
    import uvicorn

    from .app import create_app, _LOCAL_HOSTS

    warning = check_bind_host(host, allow_remote)
    if warning:
        print(warning, file=sys.stderr)
        hosts = set(options.pop("allowed_hosts", None) or _LOCAL_HOSTS)
        if host not in ("0.0.0.0", "::"):
            hosts.add(host)
        if host in ("0.0.0.0", "::"):
            import socket

            hosts |= {socket.gethostname(), socket.getfqdn()}
            try:
                hosts |= set(socket.gethostbyname_ex(socket.gethostname())[2])
            except OSError:
                pass
        options["allowed_hosts"] = hosts
    app = create_app(models, **options)
    url = page_url(app, host, port)
    print(f"paddlex-interpret gui: open {url}", flush=True)
    print("(the token in the URL is needed; press Ctrl-C to stop)", flush=True)
    if open_browser:  # a moment later, when uvicorn listens
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        uvicorn.run(app, host=host, port=int(port), log_level=log_level)
    finally:
        app.state.close()
