"""The addresses an uploaded document's certificates name are fetched only when public (or allowed).

A certificate names its issuer's certificate (AIA), its OCSP responder and its CRL; the validator
fetches them while it judges the certificate. These tests stand a listener where a document's
certificates point and check that nobody knocks, through the verifier as the service builds it."""
from __future__ import annotations

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from kyso.errors import ConfigurationError
from kyso.fetchguard import FetchGuard
from kyso.samples import make_pdf
from kyso.settings import Settings


class _Knocks:
    """A TCP listener that counts connections and closes each at once (a fetch fails fast)."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("url, refused", [
    ("http://127.0.0.1:8080/ocsp", True), ("http://localhost/crl", True), ("http://[::1]/x", True),
    ("http://[::ffff:127.0.0.1]/x", True), ("http://10.2.3.4/ocsp", True), ("http://192.168.1.1/", True),
    ("http://169.254.169.254/latest/meta-data/", True), ("http://100.64.0.1/", True), ("http://0.0.0.0/", True),
    ("http://224.0.0.1/", True), ("file:///etc/passwd", True), ("ftp://8.8.8.8/x", True), ("gopher://8.8.8.8/", True),
    ("http://8.8.8.8:99999/", True), ("/relative", True),
    # urllib reads 8.8.8.8 as the host, urllib3 (which connects) 127.0.0.1
    ("http://127.0.0.1:5432\\@8.8.8.8/crl", True), ("http://8.8.8.8/a b", True), ("http://8.8.8.8/\x00", True),
    # IPv4 carried in IPv6: mapped, 6to4, NAT64, Teredo; site-local
    ("http://[2002:a00:5::1]/", True), ("http://[64:ff9b::7f00:1]/", True), ("http://[fec0::1]/", True),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", True),
    ("http://[64:ff9b::808:808]/", False), ("http://[2001:4860:4860::8888]/", False),
    ("http://8.8.8.8/ocsp", False), ("https://1.1.1.1/crl", False),
    ("http://10.9.8.7/ocsp", False),          # allowed by network
    ("http://127.0.0.1:7000/dev-pki", False),  # allowed by host:port
])
def test_only_public_addresses_or_allowed_ones_are_fetched(url, refused):
    guard = FetchGuard.parse("10.9.0.0/16, 127.0.0.1:7000")
    assert (guard.refusal(url) is not None) is refused, guard.refusal(url)


def test_the_setting_fails_fast_and_the_development_pki_is_allowed_by_its_address():
    with pytest.raises(ConfigurationError):
        Settings.from_env({"KYSO_FETCH_ALLOW": "10.0.0.0/33"})
    with pytest.raises(ConfigurationError):
        Settings.from_env({"KYSO_FETCH_ALLOW": "a b"})
    dev = Settings(dev_pki_url="http://127.0.0.1:7123/dev-pki")
    assert dev.fetch_guard.refusal("http://127.0.0.1:7123/dev-pki/ocsp/x") is None
    assert dev.fetch_guard.refusal("http://127.0.0.1:7124/") is not None
    configured = Settings.from_env({"KYSO_FETCH_ALLOW": "OCSP.ca.gov.vn, 10.20.0.0/16"})
    assert configured.fetch_guard.allow[:2] == ("ocsp.ca.gov.vn", "10.20.0.0/16")
    assert configured.fetch_guard.refusal("http://10.20.1.2/crl") is None
    # the service's policies carry it (the API, the pages and `kyso verify` verify through them)
    from office.compose import verification_policy

    assert verification_policy(dev).fetch_guard == dev.fetch_guard


@pytest.fixture()
def document_pointing_at_a_listener(tmp_path):
    """A document signed with stock pyHanko by a development PKI's official, carrying only the
    official's certificate (the validator must fetch the issuer's through AIA), by a PKI that then
    went away: a listener took its port, so every address its certificates name (issuer, OCSP,
    CRL) leads to the listener."""
    import io

    from asn1crypto import keys
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from devpki.server import DevPKIServer

    server = DevPKIServer.start()
    try:
        pki, port = server.pki, server.port
        key = pki.private_key("nguyen-van-an")
        signer = signers.SimpleSigner(
            signing_cert=pki.certificate("nguyen-van-an"), cert_registry=SimpleCertificateStore(),
            signing_key=keys.PrivateKeyInfo.load(key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
        out = io.BytesIO()
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf())),
                         signers.PdfSignatureMetadata(field_name="Signature1"), signer=signer, output=out)
    finally:
        server.stop()
    knocks = _Knocks(port)
    try:
        yield out.getvalue(), pki, knocks
    finally:
        knocks.close()


def test_a_verification_never_knocks_on_a_private_address_a_document_names(document_pointing_at_a_listener):
    from verifier import VerificationPolicy, pathcache, verify
    from verifier.fetching import DEFAULT_POOL

    data, pki, knocks = document_pointing_at_a_listener
    DEFAULT_POOL.reset()
    with pathcache.paths_remembered(False):
        guarded = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki, fetch_guard=FetchGuard()))
        assert guarded.verdict.value == "indeterminate", guarded.to_dict()["reasons"]
        assert knocks.count == 0
        # the same document, its address allowed: the validator does ask there (the test can fail)
        allowed = FetchGuard(allow=(f"127.0.0.1:{knocks.port}",))
        opened = verify(data, policy=VerificationPolicy.for_profile("dev", dev_pki=pki, fetch_guard=allowed))
        assert opened.verdict.value == "indeterminate"
        assert knocks.count > 0


def test_a_redirect_to_a_private_address_is_not_followed():
    """An allowed responder answering with a redirect to another address: that address is judged
    too, before anything is sent there."""
    knocks = _Knocks()

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{knocks.port}/secret")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/crl"
    try:
        for allow, knocked in (((f"127.0.0.1:{server.server_port}",), False),
                               ((f"127.0.0.1:{server.server_port}", f"127.0.0.1:{knocks.port}"), True)):
            fetchers = FetchGuard(allow=allow).fetchers(timeout=2)
            with pytest.raises(requests.RequestException) as refused:
                asyncio.run(fetchers.crl_fetcher._get(url, acceptable_content_types=["application/pkix-crl"]))
            assert (knocks.count > 0) is knocked, refused.value
            if not knocked:
                assert "not a public address" in str(refused.value)
    finally:
        server.shutdown()
        knocks.close()


def test_a_name_that_resolves_elsewhere_when_connecting_reaches_nothing(monkeypatch):
    """DNS rebinding: the name resolves to a public address when the URL is judged and to this
    machine when the connection is made; the connection judges the address it connects to."""
    knocks = _Knocks()
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        answers.append(host)
        ip = "8.8.8.8" if len(answers) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):   # connected here, not via a proxy
        monkeypatch.delenv(variable, raising=False)
    url = f"http://rebind.example:{knocks.port}/crl"
    try:
        for allow, knocked in (((), False), (("127.0.0.0/8",), True)):
            answers.clear()
            fetchers = FetchGuard(allow=allow).fetchers(timeout=2)
            with pytest.raises(requests.RequestException):
                asyncio.run(fetchers.crl_fetcher._get(url, acceptable_content_types=["application/pkix-crl"]))
            assert len(answers) >= 2 and (knocks.count > 0) is knocked
    finally:
        knocks.close()
