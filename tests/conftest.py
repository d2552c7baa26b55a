"""Shared fixtures: the dev PKI served over real HTTP, a SoftHSM2 token, an NSS
database for pdfsig, sample PDFs, and the Flask app/client."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devpki.testing import dev_pki, dev_pki_server, softhsm_token  # noqa: F401 - shared fixtures
from office.compose import install_hazmat

# as the service's composition root does: the tests exercise what runs (the hex reader, the parser
# bounds, the name comparison memory and the path memory's hook)
install_hazmat()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """The moved-clock rerun of the suite (tests/moved_clock.py) starts now, beside this run, and the
    test that judges it goes last. Last of the hooks: after ``-m``/``-k`` have deselected; and never
    from the rerun itself (it would start another, and so on)."""
    import moved_clock

    waiting = [item for item in items if item.name == moved_clock.TEST_NAME]
    if waiting and not os.environ.get(moved_clock.CHILD_MARK):
        items[:] = [item for item in items if item not in waiting] + waiting
        moved_clock.start()


def pytest_unconfigure(config):
    import moved_clock

    run = moved_clock.running()
    if run is not None:
        run.stop()


def pytest_configure(config):
    """The data home of every `kyso` command and service of the run, unless a test names its own:
    never the user's ~/.local/share/kyso. And no warm helper for `kyso verify` (commands.verify_daemon):
    its place is a runtime folder that cannot exist, so every command of the run verifies in its
    own process, under the test's own patches; tests/test_verify_daemon.py gives its helpers a real
    folder."""
    import os
    import tempfile

    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="kyso-test-home-")
    # under a regular file: nobody can create it (headless Chromium creates a missing runtime folder)
    blocker = os.path.join(os.environ["XDG_DATA_HOME"], "not-a-folder")
    open(blocker, "w").close()
    os.environ["XDG_RUNTIME_DIR"] = os.path.join(blocker, "run")
from kyso.samples import make_pdf
from kyso.settings import Settings
from signer import Pkcs11Token, SigningEngine


@pytest.fixture(scope="session")
def pki_server(dev_pki_server):
    """The dev PKI over real HTTP (one per run: certificates embed its URL)."""
    return dev_pki_server


@pytest.fixture(scope="session")
def pki(dev_pki):
    return dev_pki


@pytest.fixture(scope="session")
def engine(pki):
    return SigningEngine.for_dev_pki(pki)


@pytest.fixture(scope="session")
def softhsm(softhsm_token):
    """One SoftHSM2 token per test run (python-pkcs11 loads the library once per process)."""
    return softhsm_token


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
def s3_server(tmp_path_factory):
    """SeaweedFS serving S3 on 127.0.0.1 for the whole run (tests/seaweed.py)."""
    from seaweed import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.bucket("kyso-tests")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    return make_pdf(pages=3, title="Cong van so 125/UBND-VP")


@pytest.fixture(scope="session")
def app_settings(pki_server, softhsm_token, tmp_path_factory) -> Settings:
    return Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path_factory.mktemp("data"),
                    pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin)


@pytest.fixture(scope="session")
def kyso_office(app_settings, pkcs11_token):
    """The development office of the test run (its own data folder, the shared SoftHSM token)."""
    from office import Office

    return Office.from_settings(app_settings, token=pkcs11_token)


@pytest.fixture(scope="session")
def app(app_settings, kyso_office):
    from api import create_app

    application = create_app(app_settings, office=kyso_office)
    application.config.update(TESTING=True)
    return application


@pytest.fixture()
def client(app):
    return app.test_client()


# -- databases: every registers test runs on SQLite and on PostgreSQL --------------------------

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _fresh_postgres_url() -> str:
    import uuid

    from sqlalchemy import create_engine, text

    name = "kyso_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL (migrations not yet applied)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kyso.sqlite'}"
    else:
        url = _fresh_postgres_url()
        yield url
        _drop_postgres(url)


@pytest.fixture()
def db(db_url):
    """A fresh database with the schema at the newest migration."""
    from registers.db import Database

    database = Database.connect(db_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture()
def kyso_cli(pki_server, monkeypatch, tmp_path):
    """The `kyso` command in this process, on a fresh data home, with the dev PKI of the run:
    ``kyso_cli("verify", path, ...)`` returns click's result."""
    import os

    from click.testing import CliRunner

    from commands.main import main

    for var in list(os.environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KYSO_DEV_PKI_URL", pki_server.base_url)
    monkeypatch.setenv("KYSO_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])
