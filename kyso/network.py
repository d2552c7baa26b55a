"""Who answers an operation's questions to the PKI (OCSP, CRL, certificates, time-stamps).

By default the real services answer, each as of its own now. A policy may name an
:class:`AnswersAtMoment` instead: services that answer as of the operation's moment (the
development PKI does, ``devpki.clocked``), so that an operation run at a fixed moment is run at
that moment through and through. The signer and the verifier only know this protocol; the
composition root chooses the implementation.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

__all__ = ["AnswersAtMoment"]


class AnswersAtMoment(Protocol):
    def fetchers(self, moment: datetime, *, timeout: float) -> Any:
        """pyhanko-certvalidator ``Fetchers`` whose every request asks about ``moment``."""

    def timestamper(self, url: str, moment: datetime, *, timeout: float, auth=None) -> Any:
        """A pyHanko ``TimeStamper`` whose tokens are dated at ``moment``."""
