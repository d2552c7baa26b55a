"""Documents in an S3 object store (SeaweedFS, a real server: tests/seaweed.py): the local store's
rules hold (content addressing, a repeated put sends nothing, a damaged transfer is refused and
leaves nothing, an unreachable store is a clear error), the settings that choose it fail fast, and
two nodes sharing one database and one bucket serve each other's documents."""
from __future__ import annotations

import hashlib
import io
import tempfile
import time

import pytest

from kyso.errors import ConfigurationError
from kyso.samples import make_pdf
from kyso.settings import Settings
from registers.blobstore import BlobNotFound, BlobStore, InvalidDigest, StorageError
from registers.s3store import S3BlobStore


def _s3(server, prefix: str) -> S3BlobStore:
    return S3BlobStore(bucket="kyso-tests", prefix=prefix, endpoint_url=server.endpoint,
                       access_key_id="kyso", secret_access_key="kyso")


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return BlobStore(tmp_path / "documents")
    return _s3(request.getfixturevalue("s3_server"), f"t-{request.node.name[-20:]}-{time.monotonic_ns()}")


def test_either_store_keeps_documents_by_their_digest(store, tmp_path):
    data = make_pdf(pages=2)
    sha = hashlib.sha256(data).hexdigest()
    path = tmp_path / "văn bản.pdf"
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        blob = store.put(source)
        assert (blob.sha256, blob.size) == (sha, len(data))
    assert store.exists(sha) and list(store.scan()) == [sha]
    assert store.read(sha) == data and store.verify(sha)
    with store.open(sha) as f:
        assert f.read() == data
    other = hashlib.sha256(b"x").hexdigest()
    assert not store.exists(other) and not store.verify(other)
    with pytest.raises(BlobNotFound):
        store.read(other)
    with pytest.raises(InvalidDigest):
        store.read("../" + sha[3:])


def test_a_repeated_put_sends_nothing_again(s3_server):
    store = _s3(s3_server, "repeat")
    data = make_pdf(pages=1)
    store.put(data)
    sent = []
    original = store._s3.put_object
    store._s3.put_object = lambda **kw: sent.append(kw) or original(**kw)
    store.put(data)
    assert sent == []


def test_a_document_damaged_on_its_way_to_the_store_is_refused_and_nothing_is_stored(s3_server, monkeypatch):
    """The digest travels with the object (x-amz-checksum-sha256): the server refuses content that
    does not match it, so no object ever holds other bytes than its name says."""
    store = _s3(s3_server, "damaged")
    data = make_pdf(pages=1)

    class Flipping(tempfile.SpooledTemporaryFile):
        def seek(self, offset, *args):       # the spool is rewound to be sent: damage it then
            result = super().seek(offset, *args)
            if offset == 0 and self.tell() == 0:
                super().seek(100)
                super().write(b"X")
                super().seek(0)
            return result

    monkeypatch.setattr("registers.s3store.tempfile.SpooledTemporaryFile", Flipping)
    with pytest.raises(StorageError) as caught:
        store.put(data)
    assert caught.value.detail["s3_error"] in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest")
    assert list(store.scan()) == []


def test_an_unreachable_store_is_a_clear_error_not_a_hang():
    store = S3BlobStore(bucket="kyso", endpoint_url="http://127.0.0.1:9", access_key_id="k",
                        secret_access_key="k", timeout=2)
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        store.put(b"%PDF-1.7")
    assert caught.value.code == "storage_unavailable"
    assert time.monotonic() - started < 30


def test_an_orphan_object_is_set_aside_and_put_back_once_whatever_other_nodes_do(s3_server):
    store = _s3(s3_server, "orphans")
    blob = store.put(make_pdf(pages=1))
    assert not store.set_aside(blob.sha256, grace_seconds=3600), "younger than the grace"
    time.sleep(1.1)   # the object store's clock counts whole seconds
    assert store.set_aside(blob.sha256, grace_seconds=0)
    assert not store.set_aside(blob.sha256, grace_seconds=0), "another node's reconciler took it first"
    assert not store.exists(blob.sha256) and list(store.scan()) == []
    store.put_back(blob.sha256)
    store.put_back(blob.sha256)   # and another put it back already: nothing to do, no error
    assert store.verify(blob.sha256)


@pytest.mark.parametrize("env, message", [
    ({"KYSO_STORE_URL": "s3://"}, "KYSO_STORE_URL must be"),
    ({"KYSO_STORE_URL": "s3://Kyso_Bucket"}, "KYSO_STORE_URL must be"),
    ({"KYSO_STORE_URL": "/var/lib/kyso/documents"}, "KYSO_STORE_URL must be"),
    ({"KYSO_S3_ENDPOINT_URL": "http://127.0.0.1:8333"}, "KYSO_STORE_URL is not"),
    ({"KYSO_STORE_URL": "s3://kyso", "KYSO_S3_ENDPOINT_URL": "ftp://x"}, "KYSO_S3_ENDPOINT_URL must be"),
    ({"KYSO_STORE_URL": "s3://kyso", "KYSO_S3_ACCESS_KEY_ID": "k"}, "go together"),
])
def test_store_settings_fail_fast(env, message, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"KYSO_DATA_DIR": str(tmp_path), **env})
    assert message in str(caught.value)


def test_store_settings_name_the_bucket_and_prefix(tmp_path):
    settings = Settings.from_env({"KYSO_DATA_DIR": str(tmp_path), "KYSO_STORE_URL": "s3://kyso.ubnd-hy/van-ban/2026",
                                  "KYSO_S3_ENDPOINT_URL": "https://s3.hungyen.gov.vn"})
    assert settings.store == ("kyso.ubnd-hy", "van-ban/2026")
    assert Settings.from_env({"KYSO_DATA_DIR": str(tmp_path)}).store is None


def test_production_keeps_documents_and_credentials_off_the_network_in_clear():
    from test_settings import SAFE_PRODUCTION

    s3 = {"KYSO_STORE_URL": "s3://kyso", "KYSO_S3_ACCESS_KEY_ID": "kyso", "KYSO_S3_SECRET_ACCESS_KEY": "s" * 40}
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**SAFE_PRODUCTION, **s3, "KYSO_S3_ENDPOINT_URL": "http://s3.hungyen.gov.vn:8333"})
    assert "KYSO_S3_ENDPOINT_URL" in str(caught.value)
    for endpoint in ("https://s3.hungyen.gov.vn", "http://127.0.0.1:8333"):
        assert Settings.from_env({**SAFE_PRODUCTION, **s3, "KYSO_S3_ENDPOINT_URL": endpoint}).store == ("kyso", "")


def test_two_nodes_sharing_a_database_and_a_bucket_serve_each_others_documents(
        s3_server, db_url, pki_server, softhsm_token, pkcs11_token, tmp_path):
    """Node A signs; node B (another data folder, the same database and bucket) downloads the
    signed document and reports on it; neither keeps documents on its own disk; B's reconciler
    finds nothing missing and nothing to set aside; a two-step signature prepared on A is finished
    on B, and only once."""
    from api import create_app
    from office import Office
    from office.reconcile import reconcile

    store_url = f"s3://kyso-tests/two-nodes-{time.monotonic_ns()}"

    def node(name):
        settings = Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path / name,
                            pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin,
                            database_url=db_url, audit_key_setting="a1" * 32,   # one audit trail: one key
                            store_url=store_url, s3_endpoint_url=s3_server.endpoint, s3_access_key_id="kyso",
                            s3_secret_access_key="kyso")
        office = Office.from_settings(settings, token=pkcs11_token)
        return office, create_app(settings, office=office).test_client()

    _, a = node("node-a")
    office_b, b = node("node-b")
    official = {"Authorization": "Bearer kyso-dev-nguyen-van-an"}
    signed = a.post("/api/v1/sign", headers=official, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(make_pdf(pages=2)), "tờ trình.pdf"), "level": "B-B"})
    assert signed.status_code == 200, signed.get_data(as_text=True)[:500]
    sha = hashlib.sha256(signed.data).hexdigest()
    downloaded = b.get(f"/api/v1/documents/{sha}", headers=official)
    assert downloaded.status_code == 200 and downloaded.data == signed.data
    report = b.get(f"/api/v1/documents/{sha}/report", headers=official)
    assert report.status_code == 200 and report.json["verdict"] == "valid", report.json
    assert not (tmp_path / "node-a" / "documents").exists() and not (tmp_path / "node-b" / "documents").exists()
    found = reconcile(office_b, grace_seconds=0)
    assert found.missing_files == () and found.quarantined_files == ()

    # a two-step signature prepared on A is finished on B (its pending state is in the database), once
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    prepared = a.post("/api/v1/sign/prepare", headers=official, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(make_pdf(pages=1)), "công văn.pdf"), "level": "B-B"})
    assert prepared.status_code == 200, prepared.get_data(as_text=True)[:500]
    body = prepared.get_json()
    value = pki_server.pki.private_key("nguyen-van-an").sign(base64.b64decode(body["to_be_signed"]),
                                                             padding.PKCS1v15(), hashes.SHA256())
    answer = {"handle": body["handle"], "signature": base64.b64encode(value).decode()}
    finished = b.post("/api/v1/sign/finish", headers=official, content_type="multipart/form-data", data=answer)
    assert finished.status_code == 200, finished.get_data(as_text=True)[:500]
    assert b.post("/api/v1/verify", headers=official, content_type="multipart/form-data",
                  data={"file": (io.BytesIO(finished.data), "signed.pdf")}).json["verdict"] == "valid"
    again = a.post("/api/v1/sign/finish", headers=official, content_type="multipart/form-data", data=answer)
    assert again.status_code == 404 and again.json["error"]["code"] == "signing_handle_unknown"
    assert not (tmp_path / "node-a" / "pending").exists()
