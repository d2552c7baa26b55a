"""Ask the development PKI about the operation's moment, not about the wall clock (DEV ONLY).

One signing or verification runs at one moment, read once from its injected clock. A real OCSP
responder, CRL repository or TSA answers as of *its* now; the development PKI (certomancer's
Animator, ``devpki.wsgi``) answers as of any moment a request names in its
``X-Certomancer-Fake-Time`` header. The fetchers and the time-stamper built here send that header,
so that every step of an operation that runs at a fixed moment (a test that signs "on 21 November
2026", a document signed "in 2030" to be verified "in 2036") sees the same time, whatever day the
operation actually runs on.

Only policies built for the development PKI use these (``DevPKI.answers_at_moment()`` gives the
:class:`DevAnswers` that ``SigningPolicy.for_dev_pki`` and the dev verification profile carry);
production policies never do.

pyhanko-certvalidator's requests fetchers take no extra headers; :class:`_AtMoment` replaces their
two HTTP helpers with the same requests plus the header (pyhanko-certvalidator 0.33).
"""
from __future__ import annotations

from asyncio import to_thread
from datetime import datetime

import requests
from certomancer.integrations.animator import FAKE_TIME_HEADER
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.fetchers import Fetchers
from pyhanko_certvalidator.fetchers.api import FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget
from pyhanko_certvalidator.fetchers.requests_fetchers.cert_fetch_client import RequestsCertificateFetcher
from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher
from pyhanko_certvalidator.fetchers.requests_fetchers.ocsp_client import RequestsOCSPFetcher

__all__ = ["FAKE_TIME_HEADER", "DevAnswers", "fetchers_at", "moment_header", "timestamper_at"]


def moment_header(moment: datetime) -> dict[str, str]:
    """The request header that makes the development PKI answer as of ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("the operation's moment must be timezone-aware")
    return {FAKE_TIME_HEADER: moment.isoformat()}


class _AtMoment:
    """``RequestsFetcherMixin._get``/``_post`` with the moment header added."""

    _extra_headers: dict[str, str] = {}

    def _get(self, url, *, acceptable_content_types):
        def task():
            headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent,
                       **self._extra_headers}
            response = requests.get(url=url, timeout=self.per_request_timeout, headers=headers)
            if response.status_code != 200:
                raise requests.RequestException(f"status code {response.status_code}")
            return response

        return to_thread(task)

    def _post(self, url, data, *, content_type, acceptable_content_types):
        def task():
            headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent,
                       "Content-Type": content_type, **self._extra_headers}
            response = requests.post(url=url, timeout=self.per_request_timeout, headers=headers, data=data)
            if response.status_code != 200:
                raise requests.RequestException(f"status code {response.status_code}")
            return response

        return to_thread(task)


class _OCSPFetcher(_AtMoment, RequestsOCSPFetcher):
    pass


class _CRLFetcher(_AtMoment, RequestsCRLFetcher):
    pass


class _CertificateFetcher(_AtMoment, RequestsCertificateFetcher):
    pass


def fetchers_at(moment: datetime, *, timeout: float = 10.0, limits: FetchLimits | None = None) -> Fetchers:
    """OCSP, CRL and certificate fetchers whose every request asks about ``moment``.

    Like ``RequestsFetcherBackend(...).get_fetchers()``: one budget shared by the three, and the
    answers cached by the fetchers for as long as the caller keeps them.
    """
    header = moment_header(moment)
    budget = FetchBudget(limits or FetchLimits())
    fetchers = []
    for cls in (_OCSPFetcher, _CRLFetcher, _CertificateFetcher):
        fetcher = cls(per_request_timeout=timeout, budget=budget)
        fetcher._extra_headers = header
        fetchers.append(fetcher)
    return Fetchers(ocsp_fetcher=fetchers[0], crl_fetcher=fetchers[1], cert_fetcher=fetchers[2])


def timestamper_at(url: str, moment: datetime, *, timeout: float = 10.0, auth=None) -> HTTPTimeStamper:
    """An RFC 3161 client whose tokens the development TSA dates at ``moment``."""
    return HTTPTimeStamper(url, timeout=int(timeout), headers=moment_header(moment), auth=auth)


class DevAnswers:
    """The development PKI as a ``kyso.network.AnswersAtMoment``: OCSP, CRL, certificates and
    time-stamps as of the operation's moment."""

    def fetchers(self, moment: datetime, *, timeout: float):
        return fetchers_at(moment, timeout=timeout)

    def timestamper(self, url: str, moment: datetime, *, timeout: float, auth=None):
        return timestamper_at(url, moment, timeout=timeout, auth=auth)

    def __repr__(self) -> str:
        return "DevAnswers()"
