"""KYSO development PKI (DEV ONLY): loads ``certs_dev/``, serves its OCSP/CRL/TSA, exports it,
provisions SoftHSM2.

Neutral package: signing and verification code both import it; it imports neither.

    from devpki import DevPKI
    pki = DevPKI.load(base_url="http://127.0.0.1:8080/dev-pki")
    pki.identity("nguyen-van-an").certificate

See ``devpki.server`` (HTTP), ``devpki.softhsm`` (PKCS#11 token), ``devpki.cli`` (``kyso dev-pki``)
and ``devpki.testing`` (pytest fixtures).
"""

# the names of ``devpki.pki`` are imported when first used: ``devpki.roots`` (what verification under
# the dev profile needs) must not pay for certomancer and the whole PKI (0.2 s to import, 0.7 s to build)
_FROM_PKI = {"CERTS_DEV_DIR", "CONFIG_PATH", "DEFAULT_BASE_URL", "DEV_MARKER", "DEV_P12_PASSPHRASE", "HIERARCHIES",
             "ROLES", "STATES", "DevIdentity", "DevPKI", "DevPKIError", "UnknownIdentityError", "is_dev_material"}


def __getattr__(name: str):
    if name == "DevTrust":
        from .roots import DevTrust

        return DevTrust
    if name in _FROM_PKI:
        from . import pki

        return getattr(pki, name)
    raise AttributeError(f"module 'devpki' has no attribute {name!r}")


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
    "DevTrust",
    "UnknownIdentityError",
    "is_dev_material",
]
