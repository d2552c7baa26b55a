"""OCSP, CRL and certificate fetching with a shared, short-lived cache.

Verifying many documents signed by the same few officials asks the same OCSP
responders the same questions. pyhanko-certvalidator's fetchers cache what
they fetched (and bound how much one set of fetchers may fetch): Kyso keeps
one set per thread for at most ``ttl`` seconds or ``max_uses`` verifications,
then starts a fresh one, so answers are reused but never stale for long.
"""
from __future__ import annotations

import threading
import time

from pyhanko_certvalidator.fetchers import Fetchers


class FetcherPool:
    """Fetchers per thread: pyHanko's fetchers wait for an answer another verification is already
    fetching on that verification's event loop, and each verification runs its own loop; shared
    between threads (the threaded development server, the web page's three files at once), a
    verification waited forever on another thread's loop (seen: one of twelve concurrent
    verifications never ended, another came out indeterminate)."""

    def __init__(self, *, ttl: float = 120.0, max_uses: int = 500, timeout: float = 10.0) -> None:
        self.ttl = ttl
        self.max_uses = max_uses
        self.timeout = timeout
        self._backend = None     # the HTTP stack (requests, urllib3) is imported at the first fetch, not before:
        #                          an offline `kyso verify` never pays for it
        self._lock = threading.Lock()
        self._local = threading.local()
        self._generation = 0     # every set of fetchers made, in any thread, has its own number
        self._epoch = 0          # reset(): every thread's set is renewed at its next use

    def reset(self) -> None:
        """Drop the cached answers (after a fetch failed: a failure must not be reused for minutes)."""
        with self._lock:
            self._epoch += 1

    def current(self, guard=None) -> Fetchers:
        """This thread's fetchers; with ``guard`` (a :class:`kyso.fetchguard.FetchGuard`), fetchers that
        ask only what it allows (one set per guard)."""
        sets = getattr(self._local, "sets", None)
        if sets is None:
            sets = self._local.sets = {}
        state = sets.get(guard)
        now = time.monotonic()
        if (state is None or now - state.born > self.ttl or state.uses >= self.max_uses
                or state.epoch != self._epoch):
            fresh = _Set()
            fresh.fetchers = (self._http_backend().get_fetchers() if guard is None
                              else guard.fetchers(timeout=self.timeout))   # raises: nothing kept
            with self._lock:
                self._generation += 1
                fresh.generation, fresh.epoch = self._generation, self._epoch
            fresh.born, fresh.uses = now, 0
            state = sets[guard] = fresh
        state.uses += 1
        return state.fetchers

    def _http_backend(self):
        if self._backend is None:
            from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

            with self._lock:
                if self._backend is None:
                    self._backend = RequestsFetcherBackend(per_request_timeout=self.timeout)
        return self._backend

    def generation_of(self, fetchers) -> int | None:
        """Which set of fetchers ``fetchers`` is, if it is one of this thread's current ones (validated
        paths are remembered per set: a new set means new revocation answers); None otherwise."""
        if fetchers is None:
            return None
        for state in getattr(self._local, "sets", {}).values():
            if state.fetchers is fetchers:
                return state.generation
        return None


class _Set:
    """One thread's fetchers for one guard, and when they were made."""

    fetchers = None
    generation = epoch = uses = 0
    born = 0.0


DEFAULT_POOL = FetcherPool()
