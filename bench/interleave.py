"""Interleaved timing: every contender runs once per round, in an order that rotates from round to
round, so that a machine whose speed drifts (2 shared cores drift 3x within minutes) slows every
contender alike. What is compared is each contender's median and its spread (min-max) over the same
rounds, never a figure against a fixed target."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Timing:
    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, samples: list[float]) -> "Timing":
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def text(self) -> str:
        return f"{_fmt(self.median)} ({_fmt(self.low)}-{_fmt(self.high)})"


def _fmt(ms: float) -> str:
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def interleaved(contenders: dict[str, Callable[[], Any]], *, rounds: int, warmup: int = 1,
                cleanup: Callable[[Any], None] | None = None) -> dict[str, Timing]:
    """Milliseconds per call of each contender over ``rounds`` rounds (after ``warmup`` untimed
    rounds); ``cleanup(result)`` runs untimed after each call."""
    cleanup = cleanup or (lambda result: None)
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            cleanup(contenders[name]())
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            started = time.perf_counter()
            result = contenders[name]()
            samples[name].append((time.perf_counter() - started) * 1000)
            cleanup(result)
    return {name: Timing.of(values) for name, values in samples.items()}


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])
