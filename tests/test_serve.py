"""The README's run command, as a user meets it: `kyso serve` in its own process with the
embedded default (SoftHSM2 token, dev PKI with live OCSP/CRL/TSA under /dev-pki/)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from office.compose import dev_token
from pdfcheck import pdfsig, pyhanko_statuses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kyso_serve_signs_b_lta_with_its_own_pki(tmp_path, sample_pdf):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_") and k != "SOFTHSM2_CONF"}
    env.update(KYSO_PORT=str(port), KYSO_DATA_DIR=str(tmp_path / "var"))
    kyso = Path(sys.executable).with_name("kyso")
    proc = subprocess.Popen([str(kyso), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "kyso serve did not come up"
            time.sleep(0.2)
        response = requests.post(base + "/api/v1/sign",
                                 headers={"Authorization": f"Bearer {dev_token('pham-thu-ha')}"},
                                 files={"file": ("to-trinh.pdf", sample_pdf, "application/pdf")},
                                 data={"level": "B-LTA", "location": "Hưng Yên"}, timeout=60)
        assert response.status_code == 200, response.text
        signed = response.content

        # judge it against the server's own dev PKI (same certs_dev, same base URL)
        from devpki import DevPKI

        pki = DevPKI.load(base + "/dev-pki")
        statuses = pyhanko_statuses(signed, pki.trust_roots())
        assert len(statuses) == 2 and all(s.intact and s.valid and s.trusted for s in statuses)
        assert statuses[0].signing_cert.subject.native["common_name"] == "Phạm Thu Hà"

        nssdb = tmp_path / "nss"
        nssdb.mkdir()
        subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
        root = tmp_path / "root.pem"
        from asn1crypto import pem

        root.write_bytes(pem.armor("CERTIFICATE", pki.identity("root-gov").certificate.dump()))
        subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "root", "-t", "C,C,C", "-i", str(root)],
                       check=True)
        report = pdfsig(signed, nssdb)
        assert report[0].valid and report[1].total_document
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "kyso-dev-pham-thu-ha" in out, "the dev tokens are printed at start-up"
