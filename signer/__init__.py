"""Everything that produces signatures.

* what to sign: :class:`SignRequest` and :class:`Level` (``signer.request``)
* who signs: :class:`SoftwareKeyHolder`, :class:`Pkcs11KeyHolder`,
  :class:`ExternalKeyHolder` (``signer.keyholders``)
* how: :class:`SigningEngine` under a :class:`SigningPolicy`
  (``signer.engine``, ``signer.policy``), refusing bad input first
  (``signer.preflight``); two-step signing in ``signer.external``.

This package never imports ``verifier``.
"""
from signer.engine import SignedDocument, SigningEngine
from signer.errors import SigningError
from signer.keyholders import ExternalKeyHolder, KeyHolder, Pkcs11KeyHolder, Pkcs11Token, SoftwareKeyHolder
from signer.policy import SigningPolicy
from signer.request import Level, SignRequest

__all__ = [
    "ExternalKeyHolder", "KeyHolder", "Level", "Pkcs11KeyHolder", "Pkcs11Token", "SignRequest",
    "SignedDocument", "SigningEngine", "SigningError", "SigningPolicy", "SoftwareKeyHolder",
]
