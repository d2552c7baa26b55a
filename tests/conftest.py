"""Shared fixtures: the dev PKI served over real HTTP, a SoftHSM2 token, an NSS
database for pdfsig, sample PDFs, and the Flask app/client."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devpki.server import DevPKIServer
from kyso.samples import make_pdf
from kyso.settings import DEV_PKCS11_PIN, DEV_PKCS11_SO_PIN, Settings
from signer import Pkcs11Token, SigningEngine


@pytest.fixture(scope="session")
def pki_server():
    with DevPKIServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def pki(pki_server):
    return pki_server.pki


@pytest.fixture(scope="session")
def engine(pki):
    return SigningEngine.for_dev_pki(pki)


@pytest.fixture(scope="session")
def softhsm(pki, tmp_path_factory):
    """One SoftHSM2 token per test run (python-pkcs11 loads the library once per process)."""
    from devpki.softhsm import provision_token

    token_dir = tmp_path_factory.mktemp("softhsm")
    soft = provision_token(pki, token_dir, label="kyso-test", user_pin=DEV_PKCS11_PIN,
                           so_pin=DEV_PKCS11_SO_PIN)
    soft.activate()
    return soft


@pytest.fixture(scope="session")
def pkcs11_token(softhsm):
    token = Pkcs11Token.open(module=softhsm.module_path, token_label=softhsm.token_label,
                             pin=softhsm.user_pin)
    yield token
    token.close()


@pytest.fixture(scope="session")
def nssdb(pki, tmp_path_factory):
    """An NSS database in which the dev roots are trusted, for pdfsig."""
    directory = tmp_path_factory.mktemp("nssdb")
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    for n, root in enumerate(pki.trust_roots()):
        pem = directory / f"root{n}.pem"
        from asn1crypto import pem as asn1_pem

        pem.write_bytes(asn1_pem.armor("CERTIFICATE", root.dump()))
        subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", f"kyso-dev-root-{n}",
                        "-t", "C,C,C", "-i", str(pem)], check=True)
    return directory


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    return make_pdf(pages=3, title="Cong van so 125/UBND-VP")


@pytest.fixture(scope="session")
def app_settings(pki_server, tmp_path_factory) -> Settings:
    return Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path_factory.mktemp("data"),
                    pkcs11_token="kyso-test")


@pytest.fixture(scope="session")
def app(app_settings, pkcs11_token):
    from api import create_app
    from kyso.services import Services

    services = Services.for_dev(app_settings, token=pkcs11_token)
    application = create_app(app_settings, services=services)
    application.config.update(TESTING=True)
    return application


@pytest.fixture()
def client(app):
    return app.test_client()
