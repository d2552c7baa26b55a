"""The whole office in a real headless Chromium (Debian's package, driven by Playwright) against the
service over HTTP, as its people work: an official signs a real Vietnamese draft; the clerk sees
where the number and the date will go, issues it and downloads it; a clerk of another agency is
refused; the same draft is refused the second time; a receiving clerk checks the document,
registers it, and returns a tampered copy with a signed notice; the auditor logs in on the web and
reads the document's history. The issued first page is rendered to PNG and the number and the date
are read off the draft's own blanks, once each."""
from __future__ import annotations

import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from kyso.samples import make_decree30_draft, make_pdf
from office.compose import dev_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def office_app(tmp_path_factory, pki_server, softhsm_token, pkcs11_token):
    """A fresh office of its own (numbers from 01) served over HTTP."""
    from api import create_app
    from kyso.settings import Settings
    from office import Office

    settings = Settings(dev_pki_url=pki_server.base_url, data_dir=tmp_path_factory.mktemp("browser"),
                        pkcs11_token=softhsm_token.token_label, pkcs11_pin=softhsm_token.user_pin)
    office = Office.from_settings(settings, token=pkcs11_token)
    app = create_app(settings, office=office)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    office.db.dispose()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def person(browser, base: str, user: str):
    """A tab of a person's own browser (own cookies), logged in with their token."""
    context = browser.new_context(accept_downloads=True, locale="vi-VN", viewport={"width": 1200, "height": 1000})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # a refused form answers with its 4xx page (asserted where it happens); a stylesheet, script or image that
    # fails to load, a 5xx anywhere, a script error or a console error is a problem
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
           if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    tab.on("response", lambda r: problems.append(f"{r.status} {r.request.resource_type} {r.url}")
           if r.status >= 500 or (r.status >= 400 and r.request.resource_type != "document") else None)
    tab.problems = problems
    tab.goto(base + "/")
    expect(tab).to_have_url(re.compile(r"/web/login"))
    tab.fill("#token", dev_token(user))
    tab.click("button[type=submit]")
    tab.wait_for_load_state()
    return tab


def pdf(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


def download(tab, selector: str) -> bytes:
    with tab.expect_download() as info:
        tab.click(selector)
    return open(info.value.path(), "rb").read()


def in_thread(fn, *args, **kwargs):
    """Run blocking work off Playwright's thread (its sync API keeps an asyncio loop running there)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def words_of_page_one(data: bytes, tmp_path) -> list[tuple[float, float, float, float, str]]:
    """What a reader sees on page 1 (field appearances flattened into the page): words and their boxes."""
    src, flat = tmp_path / "issued.pdf", tmp_path / "flat.pdf"
    src.write_bytes(data)
    subprocess.run(["qpdf", "--flatten-annotations=all", str(src), str(flat)], check=True)
    out = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-bbox", str(flat), "-"], capture_output=True, text=True,
                         check=True).stdout
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]


def page_one_png(data: bytes, tmp_path, name: str):
    """Page 1 as a person sees it: rendered to PNG by Poppler at 72 dpi (one pixel per point), grey."""
    from PIL import Image

    src = tmp_path / f"{name}.pdf"
    src.write_bytes(data)
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "72", "-gray", "-png", "-singlefile", str(src),
                    str(tmp_path / name)], check=True)
    return Image.open(tmp_path / f"{name}.png").convert("L")


def changed_outside(before, after, allowed: list[tuple[float, float, float, float]], height: float):
    """Pixels that differ between two renderings of a page, outside the allowed boxes (PDF points)
    and inside each allowed box: (outside, [inside per box])."""
    from PIL import ImageChops

    diff = ImageChops.difference(before, after).point(lambda v: 255 if v > 60 else 0)
    pixels = diff.load()
    outside, inside = [], [0] * len(allowed)
    for y in range(diff.height):
        for x in range(diff.width):
            if not pixels[x, y]:
                continue
            px, py = x + 0.5, height - (y + 0.5)
            hits = [i for i, (x0, y0, x1, y1) in enumerate(allowed) if x0 <= px <= x1 and y0 <= py <= y1]
            for i in hits:
                inside[i] += 1
            if not hits:
                outside.append((x, y))
    return outside, inside


@pytest.mark.slow
def test_the_office_as_its_people_use_it(office_app, browser, tmp_path):
    app, base = office_app
    office = app.extensions["kyso"]
    draft = make_decree30_draft()
    from signer.blanks import detect

    blanks = in_thread(detect, draft)

    # -- the Chairman signs the draft, with his signature image ------------------------------------
    chairman = person(browser, base, "nguyen-van-an")
    expect(chairman).to_have_url(re.compile(r"/web/sign$"))
    chairman.set_input_files("#file", pdf("Dự thảo quyết định quy chế văn thư.pdf", draft))
    expect(chairman.locator("#preview")).to_be_visible()
    chairman.check("input[name=appearance][value=personal]")
    chairman.click("button.primary[type=submit]")
    expect(chairman.locator("h1")).to_contain_text("Đã ký số văn bản")
    signed = download(chairman, "#download")
    chairman.screenshot(path=str(tmp_path / "1-chairman-signed.png"), full_page=True)

    # -- the clerk: the draft waits for her; she sees where the number and the date go; she issues ----
    clerk = person(browser, base, "agency-ubnd-hung-yen")
    clerk.goto(base + "/web/issue")
    expect(clerk.locator("#waiting")).to_contain_text("Nguyễn Văn An")
    clerk.click("#waiting a.button.primary")
    expect(clerk.locator("section.preview img")).to_be_visible()
    expect(clerk.locator("#type")).to_have_value("QĐ")                  # read off the draft's own symbol
    expect(clerk.locator("#place")).to_have_value("Hưng Yên")
    clerk.fill("#summary", "Ban hành Quy chế công tác văn thư")
    clerk.fill("#recipients", "Các sở, ban, ngành\nLưu: VT")
    clerk.screenshot(path=str(tmp_path / "2-clerk-issue.png"), full_page=True)
    clerk.click("#issue")
    expect(clerk.locator("#number")).to_have_text("01/QĐ-UBND")
    expect(clerk.locator("#outcome")).to_have_text("HỢP LỆ")
    issued = download(clerk, "#download")
    clerk.screenshot(path=str(tmp_path / "3-clerk-issued.png"), full_page=True)

    # the number and the date stand in the draft's blanks, once each
    words = in_thread(words_of_page_one, issued, tmp_path)
    height = 842
    number_box = blanks.number_box
    numbers = [w for w in words if "01/QĐ-UBND" in w[4]]
    assert len(numbers) == 1, numbers
    x0, top, x1, bottom, _ = numbers[0]
    assert number_box[0] - 2 <= x0 and x1 <= number_box[2] + 2, "the number is in the blank after 'Số:'"
    assert number_box[1] - 2 <= height - bottom and height - top <= number_box[3] + 2
    date_words = [w for w in words if w[4] in ("ngày", "tháng") and
                  blanks.date_box[1] - 2 <= height - w[3] <= blanks.date_box[3] + 2]
    assert sorted(w[4] for w in date_words).count("ngày") >= 1
    from datetime import datetime

    from kyso.decree30 import VN_TZ, vn_date_text

    today = vn_date_text(datetime.now(VN_TZ).date(), place="Hưng Yên").split()
    day, month = today[today.index("ngày") + 1], today[today.index("tháng") + 1]

    def in_date_blank(w):
        return (blanks.date_box[0] - 2 <= w[0] and w[2] <= blanks.date_box[2] + 2
                and blanks.date_box[1] - 2 <= height - w[3] <= blanks.date_box[3] + 2)

    header = [w for w in words if height - w[3] >= blanks.date_box[1] - 40]   # the page's top block
    assert [w[4] for w in header].count(day) == 1, "the day, once"
    assert [w[4] for w in header if in_date_blank(w)].count(day) == 1, "the day in the date blank"
    assert [w[4] for w in header if in_date_blank(w)].count(month) == 1, "the month in the date blank"

    # what a person sees: page 1 rendered to PNG, before and after issuing. Everything that changed is the
    # number in the draft's own number blank, the date in its date blank, and the signature with the seal
    # over the signer's block; nothing is printed a second time anywhere else.
    before = in_thread(page_one_png, draft, tmp_path, "draft-page1")
    after = in_thread(page_one_png, issued, tmp_path, "issued-page1")
    after.save(tmp_path / "3a-issued-page1.png")

    def grown(box, by):
        return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)

    signature_area = grown(blanks.signature_box, 90)          # the seal sits over the signature's left third
    outside, (in_number, in_date, in_signature) = changed_outside(
        before, after, [grown(blanks.number_box, 2), grown(blanks.date_box, 2), signature_area], height)
    assert len(outside) == 0, f"{len(outside)} pixels changed outside the blanks, e.g. {outside[:5]}"
    assert in_number > 40 and in_date > 80 and in_signature > 400, (in_number, in_date, in_signature)

    # -- a clerk of another agency cannot issue it; the same draft is refused a second time ---------
    other = person(browser, base, "agency-so-noi-vu-hung-yen")
    other.goto(base + "/web/issue")
    expect(other.locator("#waiting")).not_to_contain_text("Nguyễn Văn An")
    other.set_input_files("#file", pdf("du-thao.pdf", signed))
    other.click("#issue")
    expect(other.locator(".alert.error")).to_be_visible()
    assert "01/QĐ-UBND" not in other.content() or "đã được ban hành" in other.content()
    clerk.goto(base + "/web/issue")
    clerk.set_input_files("#file", pdf("du-thao.pdf", signed))
    clerk.click("#issue")
    expect(clerk.locator(".alert.error")).to_contain_text("01/QĐ-UBND")

    # -- the clerk makes a true copy (SAO Y) of what she issued, and signs an attachment of it ---------
    clerk.goto(base + "/web/copies")
    clerk.select_option("#copy-source", clerk.locator("#copy-source option", has_text="01/QĐ-UBND").get_attribute("value"))
    clerk.select_option("#form", "SY")
    clerk.click("#copy")
    expect(clerk.locator("#number")).to_have_text(re.compile(r"^\d{2}/SY-UBND$"))
    expect(clerk.locator("#outcome")).to_have_text("HỢP LỆ")
    clerk.screenshot(path=str(tmp_path / "3b-clerk-copy.png"), full_page=True)
    clerk.goto(base + "/web/copies")
    clerk.fill("#main_number", "01/QĐ-UBND")
    clerk.set_input_files("#attachment-file", pdf("Phụ lục danh mục.pdf", make_pdf(title="Phu luc")))
    clerk.click("#attach")
    expect(clerk.locator("h1")).to_contain_text("Đã ký số phụ lục")

    # -- the receiving clerk: checks, registers; a tampered copy goes back with a signed notice -------
    receiver = person(browser, base, "receiver")
    expect(receiver).to_have_url(re.compile(r"/web/receive$"))
    receiver.set_input_files("#file", pdf("van-ban-den.pdf", issued))
    receiver.click("#check")
    expect(receiver.locator("#outcome")).to_have_text("HỢP LỆ")
    receiver.fill("#sender", "UBND tỉnh Hưng Yên")
    receiver.fill("#reference", "01/QĐ-UBND")
    receiver.click("#register")
    expect(receiver.locator("#incoming-number")).to_contain_text("01/")
    expect(receiver.locator("#entry")).to_contain_text("(UTC+07:00)")
    receiver.screenshot(path=str(tmp_path / "4-receiver-registered.png"), full_page=True)
    tampered = bytearray(issued)
    tampered[len(tampered) // 3] ^= 0x01
    receiver.goto(base + "/web/receive")
    receiver.set_input_files("#file", pdf("ban-sua.pdf", bytes(tampered)))
    receiver.click("#check")
    expect(receiver.locator("#outcome")).not_to_have_text("HỢP LỆ")
    assert receiver.locator("#register").count() == 0
    receiver.fill("#sender", "UBND tỉnh Hưng Yên")
    receiver.click("#return")
    expect(receiver.locator("#entry")).to_contain_text("Đã trả lại nơi gửi")
    notice = download(receiver, "#notice")
    receiver.screenshot(path=str(tmp_path / "5-receiver-returned.png"), full_page=True)
    from verifier import verify

    report = in_thread(verify, notice, policy=office.verification)
    assert report.verdict.value == "valid" and report.signatures[0].signer.common_name == "UBND tỉnh Hưng Yên"

    # -- the auditor, on the web, reads the register and the issued document's history --------------
    auditor = person(browser, base, "auditor")
    auditor.goto(base + "/web/registers/outgoing")
    expect(auditor.locator("#register")).to_contain_text("01/QĐ-UBND")
    auditor.click("#register a")
    expect(auditor.locator("#entries")).to_contain_text("01/QĐ-UBND")
    expect(auditor.locator("#audit")).to_contain_text("agency-ubnd-hung-yen")
    expect(auditor.locator("#audit")).to_contain_text("(UTC+07:00)")
    auditor.screenshot(path=str(tmp_path / "6-auditor-history.png"), full_page=True)
    assert "token=" not in auditor.url

    for tab in (chairman, clerk, other, receiver, auditor):
        assert tab.problems == [], tab.problems


def test_a_batch_on_the_verify_page_shows_its_progress(office_app, browser, engine, pki, tmp_path):
    """A receiving clerk drops twelve files on the verify page: a progress bar follows the batch to
    its end, one row per file with its verdict (screenshot in the run's folder)."""
    from kyso.samples import make_pdf
    from signer import Level, SignRequest, SoftwareKeyHolder

    _, base = office_app
    holder = SoftwareKeyHolder.from_dev_pki(pki, "nguyen-van-an")
    files = []
    for i in range(12):
        data = make_pdf(pages=1, seed=i)
        if i % 3:
            data = in_thread(engine.sign, SignRequest(document=data, level=Level.B_B), key_holder=holder).data
        files.append(pdf(f"Văn bản đến {i:02}.pdf", data))
    clerk = person(browser, base, "receiver")
    clerk.goto(base + "/web/verify")
    bar = clerk.locator("#progress-bar")
    expect(bar).to_be_hidden()
    clerk.set_input_files("#files", files)
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("max", "12")
    expect(bar).to_have_js_property("value", 12, timeout=120_000)
    expect(clerk.locator("#results tbody tr")).to_have_count(12)
    expect(clerk.locator("#progress")).to_have_text("(12/12 đã xong)")
    clerk.screenshot(path=str(tmp_path / "verify-batch.png"), full_page=True)
    rows = clerk.locator("#results tbody").inner_text()
    # signed by the Chairman alone: valid signatures, not yet issued (Decree 30); the others unsigned
    assert rows.count("CHƯA BAN HÀNH") == 8 and rows.count("KHÔNG CÓ CHỮ KÝ") == 4, rows
    assert clerk.problems == []


def test_the_incoming_register_verified_again_from_its_page(office_app, browser, engine, pki, tmp_path):
    """After a trust-store change the receiving clerk opens the incoming register and asks, with one
    button, which received documents still pass: a job page follows it to the end, one row each."""
    import io

    app, base = office_app
    client = app.test_client()

    def receive(data: bytes, sender: str):
        answer = client.post("/api/v1/incoming", headers={"Authorization": f"Bearer {dev_token('receiver')}"},
                             content_type="multipart/form-data",
                             data={"file": (io.BytesIO(data), "đến.pdf"), "sender": sender})
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]

    def issued() -> bytes:
        auth = {"Authorization": f"Bearer {dev_token('nguyen-van-an')}"}
        personal = client.post("/api/v1/sign", headers=auth, content_type="multipart/form-data",
                               data={"file": (io.BytesIO(make_decree30_draft()), "dự thảo.pdf"), "level": "B-T",
                                     "appearance": "personal"})
        assert personal.status_code == 200, personal.get_data(as_text=True)[:300]
        done = client.post("/api/v1/issue", headers={"Authorization": f"Bearer {dev_token('agency-ubnd-hung-yen')}"},
                           content_type="multipart/form-data",
                           data={"file": (io.BytesIO(personal.data), "chỉ thị.pdf"), "type": "CT", "level": "B-T"})
        assert done.status_code == 200, done.get_data(as_text=True)[:300]
        return done.data

    in_thread(receive, in_thread(issued), "UBND tỉnh Hưng Yên")
    clerk = person(browser, base, "receiver")
    clerk.goto(base + "/web/registers/incoming")
    expect(clerk.locator("#register")).to_contain_text("UBND tỉnh Hưng Yên")
    clerk.click("#reverify")
    expect(clerk).to_have_url(re.compile(r"/web/jobs/[0-9a-f]{32}$"))
    expect(clerk.locator("#job-status")).to_contain_text("đã xong", timeout=60_000)
    total = clerk.locator("#job-results tbody tr").count()
    assert total >= 1
    expect(clerk.locator("#job-status")).to_have_text(f"({total}/{total} đã xong)", timeout=120_000)
    expect(clerk.locator("#job-progress")).to_have_attribute("value", str(total))
    expect(clerk.locator("#job-results")).to_contain_text("UBND tỉnh Hưng Yên")
    expect(clerk.locator("#job-verdicts")).to_contain_text("HỢP LỆ")
    clerk.screenshot(path=str(tmp_path / "incoming-reverified.png"), full_page=True)
    assert clerk.problems == [], clerk.problems
    official = person(browser, base, "nguyen-van-an")
    official.goto(base + "/web/registers/incoming")
    assert official.locator("#reverify").count() == 0
