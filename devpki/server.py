"""Run the dev PKI services (OCSP, CRL, TSA, cert repositories) over real HTTP.

    with DevPKIServer.start() as srv:        # 127.0.0.1, free port, background thread
        pki = srv.pki                       # certificates point at srv.base_url
        requests.post(pki.tsa_url, ...)

The port is bound *before* the PKI is loaded, so the certificates' AIA / CRL-DP URLs point at the
live server.
"""

from __future__ import annotations

import threading
from typing import Optional

from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .pki import CONFIG_PATH, DevPKI

__all__ = ["DevPKIServer", "serve_forever"]

DEFAULT_MOUNT = "/dev-pki"


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log line (tests and benchmarks make thousands of requests)."""

    def log_request(self, *args, **kwargs):  # noqa: D401
        pass


class _Deferred:
    """WSGI app whose target is set after the socket is bound (the port decides the URLs)."""

    def __init__(self):
        self.target = NotFound()

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


def _mounted(pki: DevPKI):
    mount = pki.mount_path
    if not mount:
        return pki.wsgi_app()
    return DispatcherMiddleware(NotFound(), {mount: pki.wsgi_app()})


class DevPKIServer:
    """The dev PKI served by werkzeug (threaded) in a background thread.

    Attributes: ``base_url`` (e.g. ``http://127.0.0.1:41234/dev-pki``), ``pki`` (the
    :class:`DevPKI` whose certificates point at ``base_url``), ``host``, ``port``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, mount: str = DEFAULT_MOUNT,
                 config_path=None, quiet: bool = True):
        self._app = _Deferred()
        self._server: BaseWSGIServer = make_server(
            host, port, self._app, threaded=True,
            request_handler=_QuietHandler if quiet else None,
        )
        self.host = host
        self.port = self._server.server_port
        mount = "/" + mount.strip("/") if mount.strip("/") else ""
        url_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{url_host}:{self.port}{mount}"
        try:
            self.pki = DevPKI.load(self.base_url, config_path=config_path or CONFIG_PATH)
            self._app.target = _mounted(self.pki)
        except BaseException:
            self._server.server_close()
            raise
        self._thread: Optional[threading.Thread] = None

    @classmethod
    def start(cls, *, host: str = "127.0.0.1", port: int = 0, mount: str = DEFAULT_MOUNT,
              config_path=None, quiet: bool = True) -> "DevPKIServer":
        """Bind (port 0 = a free port), load the PKI for that URL and serve in a daemon thread."""
        srv = cls(host=host, port=port, mount=mount, config_path=config_path, quiet=quiet)
        srv._thread = threading.Thread(
            target=srv._server.serve_forever, name=f"devpki-{srv.port}", daemon=True
        )
        srv._thread.start()
        return srv

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "DevPKIServer":
        if self._thread is None:
            raise RuntimeError("use DevPKIServer.start() to get a running server")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DevPKIServer(base_url={self.base_url!r})"


def serve_forever(*, host: str = "127.0.0.1", port: int = 9780, mount: str = DEFAULT_MOUNT) -> None:
    """Serve in the foreground until interrupted (used by ``kyso dev-pki serve``)."""
    srv = DevPKIServer(host=host, port=port, mount=mount, quiet=False)
    print(f"KYSO DEV PKI serving at {srv.base_url} (web UI: {srv.base_url}/)", flush=True)
    print(f"  TSA: {srv.pki.tsa_url}", flush=True)
    try:
        srv._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv._server.server_close()
