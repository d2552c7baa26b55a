"""Key custody and bound keys, through the doors where they were found: ``kyso admin`` binds a
PKCS#12 file and sets images; the API never serves them to anyone; a key replaced on the token
under the same label is refused until an administrator binds it again; a clerk whose key is a
PKCS#12 file issues with its passphrase."""
from __future__ import annotations

import io
import json
import stat

import pytest
from click.testing import CliRunner

from api import create_app
from certs_dev.images import load_dev_image
from devpki.softhsm import put_key
from commands.main import main
from kyso.samples import make_pdf
from office import Office
from office.compose import dev_token
from kyso.settings import Settings
from signer import Level, SignRequest, SoftwareKeyHolder
from signer.issuance import IssuanceWorkflow

PASSPHRASE = "mật-khẩu-của-Thư"


@pytest.fixture()
def office(tmp_path, pki, pki_server, softhsm_token, pkcs11_token, monkeypatch):
    """A fresh dev office (its own database, stores and users) and `kyso` on the same settings."""
    data = tmp_path / "var"
    for var in list(__import__("os").environ):
        if var.startswith("KYSO_"):
            monkeypatch.delenv(var)
    env = {"KYSO_DATA_DIR": str(data), "KYSO_DEV_PKI_URL": pki_server.base_url,
           "KYSO_PKCS11_MODULE": softhsm_token.module_path, "KYSO_PKCS11_TOKEN": softhsm_token.token_label,
           "KYSO_PKCS11_PIN": softhsm_token.user_pin}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env(env)
    services = Office.from_settings(settings, token=pkcs11_token)
    client = create_app(settings, office=services).test_client()
    runner = CliRunner()

    def kyso(*args, **extra_env):
        result = runner.invoke(main, [str(a) for a in args], env=extra_env or None)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.splitlines()[-1]) if result.stdout.strip().startswith("{") else result.stdout

    yield settings, services, client, kyso
    services.db.dispose()


def auth(user: str, token: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token or dev_token(user)}"}


def test_bound_keys_and_images_are_never_served_and_not_world_readable(office, pki, tmp_path):
    settings, services, client, kyso = office
    p12 = tmp_path / "thu.p12"
    p12.write_bytes(pki.pkcs12_bytes("agency-so-noi-vu-hung-yen", PASSPHRASE.encode()))
    clerk_token = kyso("admin", "create-user", "thu", "--name", "Lê Thị Thư", "--role", "clerk")["token"]
    bound = kyso("admin", "bind-key", "thu", "--pkcs12", p12, KYSO_PKCS12_PASSPHRASE=PASSPHRASE)
    assert bound["key_kind"] == "pkcs12" and bound["certificate_sha256"] == \
        pki.identity("agency-so-noi-vu-hung-yen").sha256_fingerprint
    seal = tmp_path / "con-dau.png"
    seal.write_bytes(load_dev_image("agency-so-noi-vu-hung-yen"))
    image = kyso("admin", "set-image", "thu", seal)["image_sha256"]

    signed = client.post("/api/v1/sign", headers=auth("nguyen-van-an"), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(make_pdf()), "cv.pdf"), "level": "B-B"})
    assert signed.status_code == 200
    document = signed.headers["X-Kyso-SHA256"]
    for user, token in (("nguyen-van-an", None), ("thu", clerk_token), ("receiver", None), ("auditor", None)):
        for secret in (bound["key_ref"], image):
            got = client.get(f"/api/v1/documents/{secret}", headers=auth(user, token))
            assert got.status_code == 404, (user, secret, got.status_code)
            assert client.get(f"/api/v1/documents/{secret}/report", headers=auth(user, token)).status_code == 404
    assert client.get(f"/api/v1/documents/{document}", headers=auth("auditor")).status_code == 200

    keys = settings.key_dir
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in keys.iterdir()} == {0o600}
    assert not any((settings.data_dir / "documents").rglob(f"{bound['key_ref']}*")), "no key in the document store"
    stored = services.blobs.path(document)
    assert stat.S_IMODE(stored.stat().st_mode) & 0o007 == 0, "stored documents are not world-readable"


def test_a_clerk_whose_key_is_a_pkcs12_file_issues_with_its_passphrase(office, pki, engine, tmp_path):
    settings, services, client, kyso = office
    p12 = tmp_path / "van-thu.p12"
    p12.write_bytes(pki.pkcs12_bytes("agency-ubnd-hung-yen", PASSPHRASE.encode()))
    token = kyso("admin", "create-user", "van-thu", "--name", "Phạm Văn Thư", "--role", "clerk",
                 "--agency", "UBND")["token"]
    kyso("admin", "bind-key", "van-thu", "--pkcs12", p12, KYSO_PKCS12_PASSPHRASE=PASSPHRASE)
    seal = tmp_path / "con-dau.png"
    seal.write_bytes(load_dev_image("agency-ubnd-hung-yen"))
    kyso("admin", "set-image", "van-thu", seal)
    workflow = IssuanceWorkflow(engine=engine, numbering=None)
    draft = workflow.sign_personal(workflow.prepare(make_pdf()), key_holder=SoftwareKeyHolder.from_dev_pki(
        pki, "nguyen-van-an"), signature_image=load_dev_image("nguyen-van-an"), level=Level.B_B).data

    def issue(**form):
        return client.post("/api/v1/issue", headers=auth("van-thu", token), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(draft), "du-thao.pdf"), "type": "CT", "level": "B-B", **form})

    missing = issue()
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (422, "key_passphrase_required")
    wrong = issue(passphrase="sai")
    assert (wrong.status_code, wrong.get_json()["error"]["code"]) == (422, "key_passphrase_invalid")
    issued = issue(passphrase=PASSPHRASE)
    assert issued.status_code == 200, issued.get_json()
    assert issued.headers["X-Kyso-Number"] == "01/CT-UBND"


def bound_official(office, pki, softhsm_token, username: str, label: str):
    """Phạm Thu Hà's key put on the token under ``label``, bound to a new official's account; her
    signing through the API."""
    settings, services, client, kyso = office
    put_key(softhsm_token, pki, "pham-thu-ha", object_label=label)
    token = kyso("admin", "create-user", username, "--name", "Phạm Thu Hà", "--role", "official")["token"]
    kyso("admin", "bind-key", username, "--pkcs11-label", label)

    def sign():
        return client.post("/api/v1/sign", headers=auth(username, token), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(make_pdf()), "cv.pdf"), "level": "B-B"})

    return sign


def test_a_key_replaced_on_the_token_under_the_same_label_is_refused_until_rebound(office, pki, softhsm_token):
    settings, services, client, kyso = office
    sign = bound_official(office, pki, softhsm_token, "chu-tich", "ky-so-chu-tich")
    first = sign()
    assert first.status_code == 200 and \
        first.headers["X-Kyso-Signer-Fingerprint"] == pki.identity("pham-thu-ha").sha256_fingerprint
    put_key(softhsm_token, pki, "le-hoang-phuc", object_label="ky-so-chu-tich")   # someone swaps the key
    for _ in range(2):
        refused = sign()
        assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "key_binding_mismatch"
    trail = io.StringIO()
    services.audit.export_jsonl(trail)
    records = [json.loads(line) for line in trail.getvalue().splitlines()]
    mismatches = [r for r in records if r["result"] == "key_binding_mismatch"]
    assert len(mismatches) == 2 and mismatches[0]["actor"] == "chu-tich"
    assert mismatches[0]["certificate"] == pki.identity("le-hoang-phuc").sha256_fingerprint

    kyso("admin", "bind-key", "chu-tich", "--pkcs11-label", "ky-so-chu-tich")   # the administrator re-binds
    again = sign()
    assert again.status_code == 200
    assert again.headers["X-Kyso-Signer-Fingerprint"] == pki.identity("le-hoang-phuc").sha256_fingerprint


def test_the_same_key_put_back_on_the_token_signs_again(office, pki, softhsm_token):
    """An administrator restores the bound key (from the HSM's backup) after a wrong one was put under
    its label: the worker that signed before, and never saw the wrong key, signs again; it does not
    keep the deleted key's handle (this answered 503 key_unavailable)."""
    sign = bound_official(office, pki, softhsm_token, "chu-tich-2", "ky-so-lai")
    assert sign().status_code == 200
    put_key(softhsm_token, pki, "le-hoang-phuc", object_label="ky-so-lai")
    put_key(softhsm_token, pki, "pham-thu-ha", object_label="ky-so-lai")
    restored = sign()
    assert restored.status_code == 200, restored.get_json()
    assert restored.headers["X-Kyso-Signer-Fingerprint"] == pki.identity("pham-thu-ha").sha256_fingerprint


def test_bind_key_names_a_missing_label_and_the_labels_present(office):
    settings, services, client, kyso = office
    kyso("admin", "create-user", "x", "--name", "X", "--role", "official")
    result = CliRunner().invoke(main, ["admin", "bind-key", "x", "--pkcs11-label", "nguyen-van-am"])
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "key_unavailable"
    assert "'nguyen-van-am'" in error["message"] and "'nguyen-van-an'" in error["message"]
    assert "UserAlreadyLoggedIn" not in result.output


def test_trust_store_changes_are_audited(office, pki, tmp_path):
    settings, services, client, kyso = office
    root = tmp_path / "root.pem"
    root.write_bytes(pki.identity("root-public").cert_pem)
    kyso("trust", "add", root)
    fingerprint = pki.identity("root-public").sha256_fingerprint
    kyso("trust", "remove", fingerprint)
    trail = io.StringIO()
    services.audit.export_jsonl(trail)
    changes = [json.loads(line)["detail"] for line in trail.getvalue().splitlines()]
    assert [c["change"] for c in changes if c.get("change", "").startswith("trust_")] == ["trust_add", "trust_remove"]
    assert all(c["certificate"] == fingerprint for c in changes if c.get("change", "").startswith("trust_"))


def test_a_revocation_found_while_collecting_b_lt_data_is_a_revocation(pki):
    """The signer's check is reused for a bounded time; if the certificate is revoked meanwhile,
    the B-LT validation data says so, and the answer is 422 certificate_revoked, not a 500."""
    from datetime import datetime, timezone

    from signer import SigningEngine
    from signer.errors import SigningError

    class Clock:
        moment = datetime(2025, 5, 31, 23, 59, 50, tzinfo=timezone.utc)   # 10 s before the revocation

        def __call__(self):
            return self.moment

    clock = Clock()
    engine = SigningEngine.for_dev_pki(pki, clock=clock)
    holder = SoftwareKeyHolder.from_dev_pki(pki, "official-revoked")
    engine.sign(SignRequest(document=make_pdf(), level=Level.B_B), key_holder=holder)
    clock.moment = datetime(2025, 6, 1, 0, 0, 10, tzinfo=timezone.utc)     # within the 60 s window
    with pytest.raises(SigningError) as refused:
        engine.sign(SignRequest(document=make_pdf(), level=Level.B_LT), key_holder=holder)
    assert refused.value.code == "certificate_revoked"
    assert refused.value.kind.name == "REFUSED"
