"""Where the PKI fetches an uploaded document can cause may go.

A certificate names the addresses of its issuer's certificate (AIA caIssuers), its OCSP responder
and its CRL; pyHanko's validator fetches them while it judges the certificate, before it knows
whether the certificate is trusted. Anyone may send a receiving office a PDF whose certificates
name ``http://127.0.0.1:5432/``, ``http://10.0.0.5/admin`` or ``http://169.254.169.254/``: without a
guard, the service's own network asked them (a request forgery from inside the office's network).

:class:`FetchGuard` decides before every request (and every redirect, followed by hand, at most
:data:`MAX_REDIRECTS`): http or https only, and every address the host resolves to must be a
public one, unless the host (``host`` or ``host:port``) or its address (a network ``a.b.c.d/n``)
is allowed explicitly: the development PKI, or a responder on a government private network the
administrator names (``KYSO_FETCH_ALLOW``). A refused fetch is a failed fetch: the signature is
indeterminate (no revocation data), never valid. The check runs on the resolved addresses, then
the request resolves the name again (a name whose answer changes in between could slip through:
an attacker who controls DNS for a name a certificate carries, within the TTL of one request).

:meth:`FetchGuard.fetchers` builds pyhanko-certvalidator's requests fetchers with their two
request methods (``_get``, ``_post``, internal to :data:`SUPPORTED` versions) replaced by guarded
ones; another version is refused at once, never fetched from unguarded.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["MAX_REDIRECTS", "SUPPORTED", "FetchGuard", "FetchGuardUnsupported"]

#: pyhanko-certvalidator versions whose requests fetchers' ``_get`` and ``_post`` this replaces
SUPPORTED = ("0.33.",)
MAX_REDIRECTS = 3
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_log = logging.getLogger("kyso.fetchguard")


class FetchGuardUnsupported(RuntimeError):
    """The installed pyhanko-certvalidator is not one the guarded fetchers were checked against."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class FetchGuard:
    """Public addresses, plus those ``allow`` names: ``host``, ``host:port`` or a network."""

    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for entry in self.allow:
            if not entry or any(c.isspace() for c in entry):
                raise ValueError(f"fetch allowance {entry!r}: a host, host:port or network, without spaces")
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)   # ValueError: not a network

    @classmethod
    def parse(cls, text: str | None, *, also: tuple[str, ...] = ()) -> "FetchGuard":
        """From ``KYSO_FETCH_ALLOW`` (comma-separated), plus ``also``."""
        entries = tuple(e.strip().lower() for e in (text or "").split(",") if e.strip())
        return cls(allow=entries + tuple(a.lower() for a in also))

    @staticmethod
    def allowance_for(url: str) -> str:
        """The ``host:port`` entry that allows the service at ``url`` (the development PKI)."""
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    def _networks(self):
        return [ipaddress.ip_network(e, strict=False) for e in self.allow if "/" in e]

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None (judged again on the address each connection is
        made to, see :func:`_backend`)."""
        if any(c == "\\" or c.isspace() or ord(c) < 0x21 or ord(c) == 0x7F for c in url):
            # two URL parsers read such an address differently (urllib's and urllib3's disagree on
            # a backslash): nothing a certificate needs
            return "the address holds a backslash, a space or a control character"
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            return f"not a URL Kyso fetches ({exc})"
        if parts.scheme not in ("http", "https"):
            return f"only http and https are fetched, not {parts.scheme or 'a relative address'!r}"
        host = (parts.hostname or "").lower()
        if not host:
            return "the address names no host"
        if self.allows_name(host, port):
            return None
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return f"{host} does not resolve ({exc})"
        for info in infos:
            problem = self.address_refusal(str(info[4][0]), host)
            if problem:
                return problem
        return None

    def allows_name(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        return host in self.allow or f"{host}:{port}" in self.allow

    def address_refusal(self, ip: str, host: str = "") -> str | None:
        """Why the address ``ip`` (as resolved for ``host``) may not be asked, or None."""
        address = ipaddress.ip_address(ip.split("%")[0])
        if address.version == 6:
            # an IPv4 address carried in an IPv6 one (mapped, 6to4, NAT64): judged as that address
            embedded = address.ipv4_mapped or address.sixtofour
            if embedded is None and address in _NAT64:
                embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            if embedded is None and address.teredo is not None:
                embedded = address.teredo[1]
            if embedded is not None:
                address = embedded
        if any(address in network for network in self._networks()):
            return None
        if (not address.is_global or address.is_multicast or address.is_reserved or address.is_private
                or address.is_loopback or address.is_link_local or address.is_unspecified
                or (address.version == 6 and address.is_site_local)):
            where = host if host.strip("[]") in ("", str(address)) else f"{host} ({address})"
            return f"{where or address} is not a public address (allow it with KYSO_FETCH_ALLOW)"
        return None

    def fetchers(self, *, timeout: float, limits=None) -> Any:
        """pyhanko-certvalidator ``Fetchers`` (requests) that ask only what this guard allows."""
        return _backend(self, timeout, limits).get_fetchers()


@functools.lru_cache(maxsize=32)
def _backend(guard: FetchGuard, timeout: float, limits):
    from importlib.metadata import version

    if not version("pyhanko-certvalidator").startswith(SUPPORTED):
        raise FetchGuardUnsupported(f"pyhanko-certvalidator {version('pyhanko-certvalidator')}: the guarded "
                                    f"fetchers were checked against {SUPPORTED}")
    from asyncio import to_thread

    import requests
    from pyhanko_certvalidator.fetchers import Fetchers
    from pyhanko_certvalidator.fetchers.api import FetchLimits
    from pyhanko_certvalidator.fetchers.common_utils import FetchBudget
    from pyhanko_certvalidator.fetchers.requests_fetchers.cert_fetch_client import RequestsCertificateFetcher
    from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher
    from pyhanko_certvalidator.fetchers.requests_fetchers.ocsp_client import RequestsOCSPFetcher

    class FetchRefused(requests.RequestException):
        """The guard refused the address: the fetch failed, as an unreachable one does."""

    session = _guarded_session(guard, FetchRefused)

    def request(method: str, url: str, **kwargs):
        try:
            return _request(method, url, **kwargs)
        except requests.RequestException:
            raise
        except Exception as exc:
            # pyHanko's fetchers count only a RequestException (or a ValueError) as a failed fetch;
            # anything else would end the whole signature's judgement: a failed fetch, and a bug to
            # fix, logged with its traceback
            _log.exception("fetching %s failed unexpectedly", url)
            raise requests.RequestException(f"{type(exc).__name__}: {exc}") from exc

    def _request(method: str, url: str, **kwargs):
        for _ in range(MAX_REDIRECTS + 1):
            problem = guard.refusal(url)
            if problem:
                raise FetchRefused(problem)
            response = session.request(method, url, allow_redirects=False, **kwargs)
            if method == "GET" and response.is_redirect and response.headers.get("location"):
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise requests.RequestException(f"status code {response.status_code}")
            return response
        raise requests.RequestException(f"more than {MAX_REDIRECTS} redirects")

    class Guarded:
        def _get(self, url, *, acceptable_content_types):
            headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent}
            return to_thread(request, "GET", url, timeout=self.per_request_timeout, headers=headers)

        def _post(self, url, data, *, content_type, acceptable_content_types):
            headers = {"Accept": ",".join(acceptable_content_types), "User-Agent": self.user_agent,
                       "Content-Type": content_type}
            return to_thread(request, "POST", url, timeout=self.per_request_timeout, headers=headers, data=data)

    class OCSP(Guarded, RequestsOCSPFetcher):
        pass

    class CRL(Guarded, RequestsCRLFetcher):
        pass

    class Certificates(Guarded, RequestsCertificateFetcher):
        pass

    class Backend:
        def get_fetchers(self):
            budget = FetchBudget(limits or FetchLimits())
            return Fetchers(ocsp_fetcher=OCSP(per_request_timeout=timeout, budget=budget),
                            crl_fetcher=CRL(per_request_timeout=timeout, budget=budget),
                            cert_fetcher=Certificates(per_request_timeout=timeout, budget=budget))

    return Backend()


def _guarded_session(guard: FetchGuard, refused):
    """A requests session whose every connection resolves the host itself, judges each address
    (unless the host is allowed by name) and connects to the address it judged: a name that
    resolves to a public address for the check and a private one for the connection (DNS
    rebinding) reaches nothing. A proxy the environment names (``HTTP_PROXY``, an office whose
    traffic leaves through one) is still used: the URL is judged before, the connection is then
    the operator's proxy's, and the proxy resolves the name."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3 import connection, connectionpool
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    def guarded(base):
        class Connection(base):
            def _new_conn(self):
                host, port = self._dns_host, self.port
                try:
                    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                except socket.gaierror as exc:
                    raise NameResolutionError(self.host, self, exc) from exc
                by_name = guard.allows_name(host, port)
                why = "no address"
                for *_, sockaddr in infos:
                    problem = None if by_name else guard.address_refusal(str(sockaddr[0]), host)
                    if problem:
                        why = problem
                        continue
                    try:
                        sock = connection.connection.create_connection(
                            (sockaddr[0], port), self.timeout, source_address=self.source_address,
                            socket_options=self.socket_options)
                    except TimeoutError as exc:
                        raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
                    except OSError as exc:
                        why = str(exc)
                        continue
                    return sock
                raise NewConnectionError(self, f"refused or failed: {why}")
        return Connection

    class HTTPPool(connectionpool.HTTPConnectionPool):
        ConnectionCls = guarded(connection.HTTPConnection)

    class HTTPSPool(connectionpool.HTTPSConnectionPool):
        ConnectionCls = guarded(connection.HTTPSConnection)

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    session = requests.Session()
    adapter = Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
