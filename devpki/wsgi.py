"""WSGI serving of the dev PKI: certomancer's Animator plus OCSP over HTTP GET.

certomancer's Animator only answers OCSP by POST. RFC 6960 (appendix A.1) also allows
``GET {url}/{url-encoded base64 of the DER request}``, which some clients (NSS among them) try
first; :class:`OCSPGetShim` turns such a GET into the equivalent POST.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from certomancer.integrations.animator import Animator, AnimatorArchStore

if TYPE_CHECKING:
    from .pki import DevPKI

__all__ = ["OCSPGetShim", "build_app"]

_OCSP_GET = re.compile(r"^(/[^/]+/ocsp/[^/]+)/(.+)$")


class OCSPGetShim:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            m = _OCSP_GET.match(environ.get("PATH_INFO", ""))
            if m:
                # PATH_INFO is already percent-decoded by the server; decode again in case the
                # client double-encoded, then accept both standard and URL-safe alphabets
                b64 = unquote(m.group(2)).replace("-", "+").replace("_", "/")
                try:
                    der = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=False)
                except (binascii.Error, ValueError):
                    start_response("400 Bad Request", [("Content-Type", "text/plain")])
                    return [b"malformed OCSP GET request\n"]
                environ = dict(environ)
                environ["REQUEST_METHOD"] = "POST"
                environ["PATH_INFO"] = m.group(1)
                environ["CONTENT_TYPE"] = "application/ocsp-request"
                environ["CONTENT_LENGTH"] = str(len(der))
                environ["wsgi.input"] = io.BytesIO(der)
        return self.app(environ, start_response)


class _WholeSecondAnimator(Animator):
    """Animator whose clock has whole seconds.

    certomancer puts ``datetime.now()`` (with microseconds) into OCSP ``producedAt`` /
    ``thisUpdate`` and TSTInfo ``genTime``; asn1crypto encodes the fraction into the
    GeneralizedTime and NSS (pdfsig, vfychain, ocspclnt) rejects such OCSP responses with
    "Improperly formatted time string", silently treating the status as unknown.
    """

    def at_time(self, request):
        return super().at_time(request).replace(microsecond=0)


def build_app(pki: "DevPKI", *, with_web_ui: bool = True):
    """The Animator for ``pki``'s architectures, wrapped with the OCSP GET shim.

    ``X-Certomancer-Fake-Time`` request headers are honoured (ask the OCSP responder, CRL
    repository or TSA about another point in time).
    """
    animator = _WholeSecondAnimator(
        AnimatorArchStore(pki.config.pki_archs),
        with_web_ui=with_web_ui,
        allow_time_override=True,
    )
    return OCSPGetShim(animator)
