"""Reusable pytest fixtures and helpers for the dev PKI (real HTTP server, real SoftHSM token).

Use them from a test module or ``tests/conftest.py`` by importing the fixture names::

    from devpki.testing import dev_pki, dev_pki_server, softhsm_token  # noqa: F401

or ``pytest_plugins = ["devpki.testing"]`` in the *root* conftest.py.

Session scope on purpose: one animator server per test run (the certificates embed its URL) and
one SoftHSM token per process (python-pkcs11 initialises the SoftHSM library once per process and
SoftHSM reads SOFTHSM2_CONF at that moment: every test in the run must use the same token, so
share ``softhsm_token`` instead of provisioning another one in-process).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Iterator, Optional

import pytest

from .pki import DevPKI
from .server import DevPKIServer
from .softhsm import SoftHSMToken, active_token, provision_token

__all__ = [
    "dev_pki",
    "dev_pki_server",
    "running_dev_pki",
    "softhsm_token",
    "tiny_pdf_bytes",
]


@contextlib.contextmanager
def running_dev_pki(**kwargs) -> Iterator[DevPKIServer]:
    """Context manager: the dev PKI served on 127.0.0.1:<free port> in a background thread."""
    srv = DevPKIServer.start(**kwargs)
    try:
        yield srv
    finally:
        srv.stop()


def tiny_pdf_bytes(text: Optional[str] = None) -> bytes:
    """A one-page PDF (pikepdf if available, else a hand-written minimal file)."""
    try:
        import pikepdf
    except ImportError:  # pragma: no cover - pikepdf is installed in the dev venv
        pikepdf = None
    if pikepdf is not None:
        pdf = pikepdf.new()
        pdf.add_blank_page(page_size=(595, 842))
        if text:
            pdf.docinfo["/Title"] = text
        buf = io.BytesIO()
        pdf.save(buf)
        return buf.getvalue()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


@pytest.fixture(scope="session")
def dev_pki_server() -> Iterator[DevPKIServer]:
    """The dev PKI's OCSP/CRL/TSA/cert repository over real HTTP for the whole test session."""
    with running_dev_pki() as srv:
        yield srv


@pytest.fixture(scope="session")
def dev_pki(dev_pki_server: DevPKIServer) -> DevPKI:
    """The dev PKI whose certificates point at the running ``dev_pki_server``."""
    return dev_pki_server.pki


@pytest.fixture(scope="session")
def softhsm_token(dev_pki: DevPKI, tmp_path_factory) -> SoftHSMToken:
    """A SoftHSM2 token with every official, agency and the untrusted signer; activated
    (SOFTHSM2_CONF set in os.environ) for this process. PINs: user 1234, SO 5678."""
    # reuse a token another fixture already activated for the same PKI (switching tokens
    # re-initialises SoftHSM and kills that fixture's open sessions)
    current = active_token()
    wanted = {i.label for i in dev_pki.identities if i.role in ("official", "agency", "untrusted")}
    if (current is not None and current.pki_base_url == dev_pki.base_url
            and wanted <= set(current.object_ids)):
        return current
    token_dir: Path = tmp_path_factory.mktemp("softhsm")
    token = provision_token(dev_pki, token_dir)
    token.activate()
    return token
