"""The web pages in a real headless Chromium (Debian's package, driven by Playwright) against the service over
HTTP: log in with a token, sign a PDF on the sign page and download it, verify files on the verify page."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from kyso.samples import make_pdf
from office.compose import dev_token
from verifier import verify

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(app):
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(accept_downloads=True, locale="vi-VN", viewport={"width": 1200, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.problems = problems
    yield tab
    context.close()


def verified(data: bytes, policy):
    """verify() in a thread of its own: Playwright's sync API keeps an asyncio loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(verify, data, policy=policy).result()


def pdf(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


@pytest.mark.slow
def test_sign_download_then_verify_in_a_browser(app, server, page, tmp_path):
    policy = app.extensions["kyso"].office.policy
    # log in with the official's token
    page.goto(f"{server}/web/sign")
    expect(page).to_have_url(f"{server}/web/login?next=/web/sign")
    page.fill("#token", dev_token("nguyen-van-an"))
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server}/web/sign")
    expect(page.locator("header .user")).to_contain_text("Nguyễn Văn An")

    # choose a PDF: page 1 is previewed; sign it at B-T and download it
    page.set_input_files("#file", files=[pdf("Công văn 125.pdf", make_pdf(pages=2, title="Cong van 125"))])
    expect(page.locator("#preview")).to_be_visible()
    assert page.eval_on_selector("#preview", "img => img.naturalWidth") > 100
    page.select_option("#level", "B-T")
    page.fill("#reason", "Phê duyệt")
    page.click("form button.primary")
    expect(page.locator("h1")).to_have_text("Đã ký số văn bản")
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename.endswith("-signed.pdf")
    signed_path = tmp_path / "signed.pdf"
    download.save_as(signed_path)
    signed = signed_path.read_bytes()
    report = verified(signed, policy)
    assert report.verdict.value == "valid" and report.signatures[0].signer.common_name == "Nguyễn Văn An"

    # verify two files chosen with the file picker: the table fills in, green and red
    tampered = bytearray(signed)
    tampered[400] ^= 1      # one bit in the signed content
    page.click("nav.main >> text=Kiểm tra chữ ký")
    expect(page).to_have_url(f"{server}/web/verify")
    page.set_input_files("#files", files=[pdf("hop-le.pdf", signed), pdf("bi-sua.pdf", bytes(tampered))])
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('#results tr[data-verdict="valid"]')).to_have_count(1)
    expect(page.locator('#results tr[data-verdict="invalid"]')).to_have_count(1)
    valid = page.locator('#results tr[data-verdict="valid"]')
    expect(valid.locator(".chip")).to_have_text("HỢP LỆ")
    expect(valid).to_contain_text("hop-le.pdf")
    expect(valid).to_contain_text("Nguyễn Văn An")
    expect(page.locator('#results tr[data-verdict="invalid"] .chip')).to_have_text("KHÔNG HỢP LỆ")
    expect(page.locator('#results tr[data-verdict="invalid"]')).to_contain_text("bi-sua.pdf")

    # a third file dropped on the drop zone: an unsigned PDF, grey
    page.evaluate("""(bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], "chua-ky.pdf", {type: "application/pdf"}));
        document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", list(make_pdf()))
    expect(page.locator('#results tr[data-verdict="unsigned"] .chip')).to_have_text("KHÔNG CÓ CHỮ KÝ")
    expect(page.locator("#progress")).to_have_text("(3/3 đã xong)")
    page.screenshot(path=str(tmp_path / "verify-page.png"), full_page=True)

    # each row links to the document's full report, with its certificate chain
    with page.context.expect_page() as report_tab:
        valid.locator("a").click()
    report_page = report_tab.value
    report_page.wait_for_load_state()
    expect(report_page.locator(".report")).to_contain_text("Nguyễn Văn An")
    assert report_page.locator("ol.chain li").count() >= 2
    assert page.problems == [], page.problems
