"""`kyso admin`: create users, bind keys, set images, rotate tokens, all audited."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from certs_dev.images import load_dev_image
from commands.main import main


@pytest.fixture()
def run(monkeypatch, tmp_path, softhsm, pkcs11_token):
    for var in list(__import__("os").environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KYSO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KYSO_PKCS11_MODULE", softhsm.module_path)
    monkeypatch.setenv("KYSO_PKCS11_TOKEN", softhsm.token_label)
    monkeypatch.setenv("KYSO_PKCS11_PIN", softhsm.user_pin)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


def test_admin_manages_users_keys_images_and_tokens(run, tmp_path):
    result = run("admin", "create-user", "nva", "--name", "Nguyễn Văn An", "--role", "official", "--agency", "UBND")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)["token"]
    result = run("admin", "bind-key", "nva", "--pkcs11-label", "nguyen-van-an")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["certificate_sha256"]
    png = tmp_path / "chu-ky.png"
    png.write_bytes(load_dev_image("nguyen-van-an"))
    assert run("admin", "set-image", "nva", png).exit_code == 0
    rotated = json.loads(run("admin", "rotate-token", "nva").stdout)["token"]
    assert rotated != first
    users = {u["username"]: u for u in map(json.loads, run("admin", "list-users").stdout.splitlines())}
    assert users["nva"]["display_name"] == "Nguyễn Văn An" and users["nva"]["image_sha256"]
    assert run("admin", "bind-key", "nva", "--pkcs11-label", "no-such-key").exit_code == 1
    assert run("admin", "create-user", "x", "--name", "X", "--role", "god").exit_code == 2

    from kyso.settings import Settings
    from registers.accounts import Accounts
    from registers.db import Database

    db = Database.connect(Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "var")}).database_url)
    accounts = Accounts(db)
    assert accounts.authenticate(first) is None and accounts.authenticate(rotated).username == "nva"
    assert run("audit", "verify").exit_code == 0
    from registers.audit import AuditTrail

    key = Settings.from_env({"KYSO_DATA_DIR": str(tmp_path / "var")}).audit_key   # the installation's own
    assert AuditTrail(db, key=key.encode()).verify().records == 4   # create, bind, image, rotate
    db.dispose()
