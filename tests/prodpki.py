"""A PKI that is not certs_dev, for production-mode tests: the same hierarchy as the dev PKI, with
freshly generated keys and without the "KYSO DEV" marker, so that ``devpki.is_dev_material`` does
not recognise a single certificate, as an administrator's own CA would be.

It adds ``official-revoked-soon``, an official revoked at a moment the test chooses.
"""
from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from devpki import CONFIG_PATH, CERTS_DEV_DIR

MARKER_REPLACEMENT = "thử nghiệm vận hành"


def _fresh_key_like(path: Path):
    original = serialization.load_pem_private_key(path.read_bytes(), password=None,
                                                  unsafe_skip_rsa_key_validation=True)
    if isinstance(original, rsa.RSAPrivateKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=original.key_size)
    return ec.generate_private_key(original.curve)


def _unmark(value):
    if isinstance(value, str):
        return value.replace("(KYSO DEV)", f"({MARKER_REPLACEMENT})").replace("KYSO DEV", "Hưng Yên thử nghiệm")
    if isinstance(value, dict):
        return {k: _unmark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unmark(v) for v in value]
    return value


def make_production_like_pki(directory: Path, *, revoked_soon_at: datetime) -> Path:
    """Write the configuration and its keys under ``directory``; return the configuration's path."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    config = _unmark(copy.deepcopy(raw))
    keys_dir = directory / "keys"
    keys_dir.mkdir(exist_ok=True)
    keyset = config["keysets"]["kyso"]
    keyset["keys"]["official-revoked-soon"] = {"path": "official-revoked-soon.key.pem"}
    for label, entry in keyset["keys"].items():
        source = CERTS_DEV_DIR / raw["keysets"]["kyso"]["path-prefix"] / (
            raw["keysets"]["kyso"]["keys"].get(label, {"path": "nguyen-van-an.key.pem"})["path"])
        key = _fresh_key_like(source)
        (keys_dir / entry["path"]).write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    keyset["path-prefix"] = "keys"
    arch = config["pki-architectures"]["kyso"]
    arch["entities"]["official-revoked-soon"] = {
        "common-name": "Ngô Thị Hạnh", "title": "Phó Giám đốc", "organization-name": "UBND tỉnh Hưng Yên",
        "organizational-unit-name": "Sở Công Thương tỉnh Hưng Yên", "locality-name": "Hưng Yên",
        "state-or-province-name": "Hưng Yên"}
    arch["certs"]["official-revoked-soon"] = {
        "template": "nguyen-van-an",
        "revocation": {"revoked-since": revoked_soon_at.isoformat(), "reason": "key_compromise"}}
    config["kyso-dev"]["identities"]["official-revoked-soon"] = {"role": "official", "state": "revoked"}
    path = directory / "production-like.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
