"""A key-caching crypto backend for certomancer (performance only, same bytes out).

certomancer 0.16's ``PycaCryptographyBackend`` re-parses the signer's private key from DER for
*every* signature it makes (each certificate, CRL, OCSP response, time-stamp token). For RSA keys
``cryptography`` then runs a full key consistency check, 45-100 ms each time: the dev TSA and OCSP
responders would spend most of their time re-reading their own keys. This backend parses each key
once per process and keeps the key object.

It is installed process-wide (``certomancer.crypto_utils.CRYPTO_BACKEND``) the first time
``devpki`` loads the dev PKI. Output is identical (RSA PKCS#1 v1.5 is deterministic; ECDSA and
PSS are randomised in both implementations).
"""

from __future__ import annotations

import threading
from typing import Optional, Tuple

from asn1crypto import algos, keys, pem
from certomancer import crypto_utils
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

__all__ = ["CachingPycaBackend", "install", "load_private_key_cached"]

_lock = threading.Lock()
_cache: dict[bytes, object] = {}


def load_private_key_cached(der_or_pem: bytes, password: Optional[bytes] = None):
    """Parse a private key once per process (keyed by its encoded bytes and password)."""
    cache_key = (password or b"") + b"\x00" + der_or_pem
    with _lock:
        key = _cache.get(cache_key)
    if key is not None:
        return key
    loader = (
        serialization.load_pem_private_key
        if pem.detect(der_or_pem)
        else serialization.load_der_private_key
    )
    # the development PKI's own keys (certs_dev/keys, made by generate_keys.py): skip cryptography's
    # RSA consistency check, 70 ms a key and 1.6 s of every `kyso verify` under the dev profile
    key = loader(der_or_pem, password=password, unsafe_skip_rsa_key_validation=True)
    with _lock:
        _cache.setdefault(cache_key, key)
    return key


class CachingPycaBackend(crypto_utils.PycaCryptographyBackend):
    def load_private_key(
        self, key_bytes: bytes, password: Optional[bytes]
    ) -> Tuple[keys.PrivateKeyInfo, keys.PublicKeyInfo]:
        key = load_private_key_cached(key_bytes, password)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # prime the cache under the DER encoding used by generic_sign
        with _lock:
            _cache.setdefault(b"\x00" + der, key)
        pub = key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        return keys.PrivateKeyInfo.load(der), keys.PublicKeyInfo.load(pub)

    def generic_sign(
        self,
        private_key: keys.PrivateKeyInfo,
        tbs_bytes: bytes,
        sd_algo: algos.SignedDigestAlgorithm,
    ) -> bytes:
        priv_key = load_private_key_cached(private_key.dump(), None)
        sig_algo = sd_algo.signature_algo
        if sig_algo == "rsassa_pkcs1v15":
            assert isinstance(priv_key, rsa.RSAPrivateKey)
            hash_algo = getattr(hashes, sd_algo.hash_algo.upper())()
            return priv_key.sign(tbs_bytes, padding.PKCS1v15(), hash_algo)
        if sig_algo == "rsassa_pss":
            assert isinstance(priv_key, rsa.RSAPrivateKey)
            params = sd_algo["parameters"]
            mga = params["mask_gen_algorithm"]
            if mga["algorithm"].native != "mgf1":
                raise NotImplementedError("Only MGF1 is supported")
            mgf_md = getattr(hashes, mga["parameters"]["algorithm"].native.upper())()
            pss = padding.PSS(
                mgf=padding.MGF1(algorithm=mgf_md),
                salt_length=params["salt_length"].native,
            )
            hash_algo = getattr(hashes, sd_algo.hash_algo.upper())()
            return priv_key.sign(tbs_bytes, pss, hash_algo)
        if sig_algo == "ecdsa":
            assert isinstance(priv_key, ec.EllipticCurvePrivateKey)
            hash_algo = getattr(hashes, sd_algo.hash_algo.upper())()
            return priv_key.sign(tbs_bytes, ec.ECDSA(hash_algo))
        if sig_algo == "dsa":
            assert isinstance(priv_key, dsa.DSAPrivateKey)
            return priv_key.sign(tbs_bytes, getattr(hashes, sd_algo.hash_algo.upper())())
        if sig_algo in ("ed25519", "ed448"):
            assert isinstance(priv_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey))
            return priv_key.sign(tbs_bytes)
        raise NotImplementedError(f"The signature algorithm {sig_algo} is unsupported")


def install() -> None:
    """Make certomancer use the caching backend (idempotent, process-wide)."""
    if not isinstance(crypto_utils.CRYPTO_BACKEND, CachingPycaBackend):
        crypto_utils.CRYPTO_BACKEND = CachingPycaBackend()
