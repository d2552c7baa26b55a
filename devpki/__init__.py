"""KYSO development PKI (DEV ONLY): loads ``certs_dev/``, serves its OCSP/CRL/TSA, exports it,
provisions SoftHSM2.

Neutral package: signing and verification code both import it; it imports neither.

    from devpki import DevPKI
    pki = DevPKI.load(base_url="http://127.0.0.1:8080/dev-pki")
    pki.identity("nguyen-van-an").certificate

See ``devpki.server`` (HTTP), ``devpki.softhsm`` (PKCS#11 token), ``devpki.cli`` (``kyso dev-pki``)
and ``devpki.testing`` (pytest fixtures).
"""

from .pki import (
    CERTS_DEV_DIR,
    CONFIG_PATH,
    DEFAULT_BASE_URL,
    DEV_MARKER,
    DEV_P12_PASSPHRASE,
    HIERARCHIES,
    ROLES,
    STATES,
    DevIdentity,
    DevPKI,
    DevPKIError,
    UnknownIdentityError,
    is_dev_material,
)

__all__ = [
    "CERTS_DEV_DIR",
    "CONFIG_PATH",
    "DEFAULT_BASE_URL",
    "DEV_MARKER",
    "DEV_P12_PASSPHRASE",
    "HIERARCHIES",
    "ROLES",
    "STATES",
    "DevIdentity",
    "DevPKI",
    "DevPKIError",
    "UnknownIdentityError",
    "is_dev_material",
]
