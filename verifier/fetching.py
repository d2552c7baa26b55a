"""OCSP, CRL and certificate fetching with a shared, short-lived cache.

Verifying many documents signed by the same few officials asks the same OCSP
responders the same questions. pyhanko-certvalidator's fetchers cache what
they fetched (and bound how much one set of fetchers may fetch): Kyso keeps
one set for at most ``ttl`` seconds or ``max_uses`` verifications, then
starts a fresh one, so answers are reused but never stale for long.
"""
from __future__ import annotations

import threading
import time

from pyhanko_certvalidator.fetchers import Fetchers
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend


class FetcherPool:
    def __init__(self, *, ttl: float = 120.0, max_uses: int = 500, timeout: float = 10.0) -> None:
        self.ttl = ttl
        self.max_uses = max_uses
        self._backend = RequestsFetcherBackend(per_request_timeout=timeout)
        self._lock = threading.Lock()
        self._fetchers: Fetchers | None = None
        self._born = 0.0
        self._uses = 0
        self._generation = 0

    def reset(self) -> None:
        """Drop the cached answers (after a fetch failed: a failure must not be reused for minutes)."""
        with self._lock:
            self._fetchers = None

    def current(self) -> Fetchers:
        with self._lock:
            now = time.monotonic()
            if self._fetchers is None or now - self._born > self.ttl or self._uses >= self.max_uses:
                self._fetchers = self._backend.get_fetchers()
                self._born = now
                self._uses = 0
                self._generation += 1
            self._uses += 1
            return self._fetchers

    def generation_of(self, fetchers) -> int | None:
        """Which set of fetchers ``fetchers`` is, if it is this pool's current one (validated paths
        are remembered per set: a new set means new revocation answers); None otherwise."""
        with self._lock:
            return self._generation if fetchers is not None and fetchers is self._fetchers else None


DEFAULT_POOL = FetcherPool()
