"""Bounded work at every door that parses a PDF (issue 14): a page tree that lists one page a million
times, arrays nested fifty thousand deep where signers look, a page whose contents inflate to 256 MiB.
Before: signing the first took 32 s and 2.4 GB (189 s with a visible signature, 68 s to prepare),
nesting in the page dictionary was a 500 at sign and two-step sign, the content bomb was signed.
Now each is refused in seconds, in bounded memory, with a code of its own (kyso.pdfbounds)."""
from __future__ import annotations

import io
import json
import time

import pytest

from hostile import door_cases
from kyso.pdfbounds import PdfBounds, PdfTooManyPages, admit
from kyso.samples import make_decree30_draft, make_pdf
from office.compose import dev_token

# nothing here depends on the clock: run once by `make test`, not again in the moved-clock run
pytestmark = pytest.mark.slow

CASES = {name: data for name, _, data in door_cases()}
OFFICIAL, CLERK, RECEIVER = "nguyen-van-an", "agency-ubnd-hung-yen", "receiver"

DOORS = {
    "sign": ("/api/v1/sign", OFFICIAL, {"level": "B-B"}),
    "sign-personal": ("/api/v1/sign", OFFICIAL, {"level": "B-B", "appearance": "personal"}),
    "sign-prepare": ("/api/v1/sign/prepare", OFFICIAL, {"level": "B-B"}),
    "prepare": ("/api/v1/prepare", OFFICIAL, {}),
    "issue": ("/api/v1/issue", CLERK, {"type": "QĐ", "level": "B-B"}),
    "attachment": ("/api/v1/sign-attachment", CLERK, {"main_number": "01/QĐ-UBND", "level": "B-B"}),
    "copy": ("/api/v1/copy", CLERK, {"form": "SY"}),
    "extend": ("/api/v1/extend", RECEIVER, {}),
}
EXPECTED = {"page-tree-million": "pdf_array_too_long", "count-billion": "pdf_too_many_pages", "page-tree-20000": "pdf_too_many_pages",
            "nested-in-page": "pdf_too_deeply_nested", "nested-in-form": "pdf_too_deeply_nested",
            "nested-dicts-in-catalog": "pdf_too_deeply_nested", "flate-bomb-256m-content": "pdf_inflates_too_much"}


def _rss_mib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _post(client, path, user, form, data):
    return client.post(path, data={"file": (io.BytesIO(data), "hostile.pdf"), **form},
                       headers={"Authorization": f"Bearer {dev_token(user)}"}, content_type="multipart/form-data")


@pytest.mark.parametrize("case", ["page-tree-20000", "nested-in-page", "flate-bomb-256m-content"])
@pytest.mark.parametrize("door", list(DOORS))
def test_every_door_refuses_out_of_bounds_documents_quickly_in_bounded_memory(client, door, case):
    path, user, form = DOORS[door]
    before = _rss_mib()
    started = time.perf_counter()
    response = _post(client, path, user, form, CASES[case])
    elapsed = time.perf_counter() - started
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == EXPECTED[case]
    assert error["message_vi"] and error["message"]
    assert elapsed < 15, f"{door} {case}: {elapsed:.1f} s"
    assert _rss_mib() - before < 200, f"{door} {case}: RSS {before} -> {_rss_mib()} MiB"


@pytest.mark.parametrize("case", sorted(CASES))
def test_sign_gives_a_clear_answer_for_every_hostile_file(client, case):
    """Every file of the generator's door set at the upload endpoint officials use: a signature or a
    4xx with a code, never a 500."""
    response = _post(client, "/api/v1/sign", OFFICIAL, {"level": "B-B"}, CASES[case])
    assert response.status_code in (200, 413, 415, 422), (case, response.status_code, response.get_data()[:300])
    if response.status_code != 200:
        assert response.get_json()["error"]["code"] == EXPECTED.get(case, response.get_json()["error"]["code"])
        assert response.get_json()["error"]["code"] != "signing_failed"


@pytest.mark.parametrize("case", ["page-tree-million", "nested-in-page", "flate-bomb-256m-content"])
def test_verification_stops_at_a_bound_with_a_reason(client, case):
    started = time.perf_counter()
    response = _post(client, "/api/v1/verify", RECEIVER, {}, CASES[case])
    assert response.status_code == 200
    report = response.get_json()
    assert report["verdict"] == "indeterminate"
    assert report["reasons"][0]["code"] == "limit", report["reasons"]
    assert time.perf_counter() - started < 15


def test_the_web_page_and_the_command_line_refuse_too(client, kyso_cli, tmp_path):
    from tests.test_web_pages import csrf_of

    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    client.post("/web/login", data={"csrf_token": token, "token": dev_token(OFFICIAL)})
    page = client.get("/web/sign").get_data(as_text=True)
    response = client.post("/web/sign", data={"csrf_token": csrf_of(page), "level": "B-B",
                                              "file": (io.BytesIO(CASES["page-tree-20000"]), "nhiều-trang.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "10000 trang" in response.get_data(as_text=True)

    source = tmp_path / "long.pdf"
    source.write_bytes(CASES["nested-in-page"])
    result = kyso_cli("sign", source, tmp_path / "out.pdf", "--as", OFFICIAL, "--level", "B-B")
    assert result.exit_code != 0
    assert "pdf_too_deeply_nested" in result.output
    assert not (tmp_path / "out.pdf").exists()


def test_real_documents_pass_the_bounds_and_are_measured():
    shape = admit(make_decree30_draft(), bounds=PdfBounds())
    assert shape.readable and shape.pages >= 1 and shape.objects > 3 and shape.revisions == 1
    long = admit(make_pdf(pages=300), bounds=PdfBounds())
    assert long.pages == 300 and long.inflated_bytes > 0
    with pytest.raises(PdfTooManyPages):
        admit(make_pdf(pages=300), bounds=PdfBounds(max_pages=299))


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _batch(client, archive: bytes):
    return client.post("/api/v1/verify/batch", data={"zip": (io.BytesIO(archive), "lo-van-ban.zip")},
                       headers={"Authorization": f"Bearer {dev_token(RECEIVER)}"}, content_type="multipart/form-data")


def test_batch_verification_streams_a_zip_one_member_at_a_time(client):
    """A 400 KB zip of 500 members of 800 KB each took 911 MB when every member was read first."""
    archive = _zip({f"vb-{i:03}.pdf": bytes(800 * 1024) for i in range(500)})
    assert len(archive) < 1024 * 1024
    before = _rss_mib()
    response = _batch(client, archive)
    lines = response.get_data(as_text=True).splitlines()
    assert response.status_code == 200 and len(lines) == 500
    assert _rss_mib() - before < 150, f"RSS {before} -> {_rss_mib()} MiB"


def test_batch_verification_refuses_bombs_and_oversized_zips(client):
    bomb = _batch(client, _zip({"bom.pdf": bytes(50 * 1024 * 1024)}))
    assert bomb.status_code == 422 and bomb.get_json()["error"]["code"] == "zip_bomb"
    many = _batch(client, _zip({f"{i}.pdf": b"%PDF-1.7" for i in range(501)}))
    assert many.status_code == 413 and many.get_json()["error"]["code"] == "zip_too_large"


def _records(app) -> int:
    from sqlalchemy import func, select

    from registers.models import AuditRecord

    with app.extensions["kyso"].db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditRecord))


@pytest.mark.parametrize("door, form", [
    ("/api/v1/issue", {"type": "QĐ", "level": "B-B"}), ("/api/v1/copy", {"form": "SY"})])
def test_one_refusal_one_audit_record(app, client, door, form):
    """make stress found two records for one out-of-bounds refusal at issue and copy."""
    before = _records(app)
    assert _post(client, door, CLERK, form, CASES["nested-in-page"]).status_code == 422
    assert _records(app) == before + 1


def test_a_refused_field_name_is_audited(app, client):
    """make stress found 422s for a field name with a dot that left no audit record."""
    before = _records(app)
    response = _post(client, "/api/v1/sign", OFFICIAL, {"level": "B-B", "field": "Chu.Ky"}, make_pdf())
    assert response.status_code == 422 and _records(app) == before + 1


def test_a_damaged_zip_member_is_said_to_be_unreadable_not_judged(client):
    archive = bytearray(_zip({"hong.pdf": make_pdf(), "tot.pdf": make_pdf()}))
    start = archive.find(b"PK\x03\x04", 4)        # the second member's local header
    archive[start + 40:start + 80] = bytes(40)    # inside its compressed data
    lines = [json.loads(l) for l in _batch(client, bytes(archive)).get_data(as_text=True).splitlines()]
    assert [l["file"] for l in lines] == ["hong.pdf", "tot.pdf"]
    assert lines[0]["verdict"] == "unsigned"
    assert lines[1]["error"]["code"] == "zip_member_unreadable" and lines[1]["verdict"] == "indeterminate"
