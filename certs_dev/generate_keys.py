"""Generate the private keys of the KYSO development PKI (run once; the keys are committed).

    .venv/bin/python certs_dev/generate_keys.py

Existing key files are never overwritten: the certificates in ``certomancer.yml`` are derived from
these keys, so regenerating a key changes every certificate issued to or by it.  Pass ``--force``
only if you really mean to rotate the whole dev PKI.

DEV ONLY: these keys are public (committed to the repository, unencrypted PKCS#8 PEM).
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEY_DIR = Path(__file__).resolve().parent / "keys"

# label -> algorithm ("rsa2048", "rsa3072", "ecdsa-p256"); labels match certomancer.yml
KEYS: dict[str, str] = {
    # government hierarchy (Ban Cơ yếu Chính phủ shape)
    "root-gov": "rsa3072",
    "ca-gov": "rsa2048",
    "ocsp-root-gov": "rsa2048",
    "ocsp-ca-gov": "rsa2048",
    "tsa": "rsa2048",
    "nguyen-van-an": "rsa2048",
    "tran-thi-bich-ngoc": "ecdsa-p256",
    "le-hoang-phuc": "rsa2048",
    "pham-thu-ha": "ecdsa-p256",
    "official-revoked": "rsa2048",
    "official-expired": "ecdsa-p256",
    "official-not-yet-valid": "rsa2048",
    "official-no-nr": "ecdsa-p256",
    "agency-ubnd-hung-yen": "rsa2048",
    "agency-so-noi-vu-hung-yen": "ecdsa-p256",
    # second, unrelated hierarchy (public CA / another province)
    "root-public": "rsa3072",
    "ca-public": "rsa2048",
    "ocsp-root-public": "rsa2048",
    "ocsp-ca-public": "rsa2048",
    "dang-thi-mai": "rsa2048",
    "agency-ubnd-nghe-an": "ecdsa-p256",
    # self-signed, untrusted
    "untrusted-self-signed": "rsa2048",
}


def _generate(algorithm: str):
    if algorithm.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[3:]))
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key algorithm {algorithm!r}")


def main(argv: list[str]) -> int:
    force = "--force" in argv
    KEY_DIR.mkdir(parents=True, exist_ok=True)
    for label, algorithm in KEYS.items():
        path = KEY_DIR / f"{label}.key.pem"
        if path.exists() and not force:
            continue
        key = _generate(algorithm)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        print(f"wrote {path} ({algorithm})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
