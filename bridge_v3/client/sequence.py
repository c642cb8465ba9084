"""Per-source ``seq`` bookkeeping: what is new, what is a repeat, what is missing.

The bridge numbers its messages 1, 2, 3 ... per ``source``; a repeated number is a redelivery
(at-least-once delivery after a crash), a jump is a loss. ``SeqTracker`` holds the last number
handed on per source and classifies each arriving one. It is pure bookkeeping (no I/O) so the
subscriber, the consumer-group reader and the gap report share it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge_v3.client.events import Gap


@dataclass(frozen=True, slots=True)
class Verdict:
    """``new`` False means a repeat (drop it); ``gap`` is what went missing just before."""

    new: bool
    gap: Gap | None = None


class SeqTracker:
    """Last seq seen per source. ``last`` can be saved and given back to resume exactly."""

    def __init__(self, last: dict[str, int] | None = None) -> None:
        self.last: dict[str, int] = dict(last or {})

    def see(self, source: str, seq: int) -> Verdict:
        """Classify ``seq`` of ``source`` and, if new, remember it.

        The first seq of a source never seen before opens no gap: where it started is unknown.
        """
        previous = self.last.get(source)
        if previous is not None and seq <= previous:
            return Verdict(new=False)
        self.last[source] = seq
        if previous is not None and seq > previous + 1:
            return Verdict(new=True, gap=Gap(source, previous + 1, seq - 1))
        return Verdict(new=True)


def missing_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """The (first, last) ranges absent between the smallest and largest of ``seqs``."""
    ordered = sorted(set(seqs))
    return [(a + 1, b - 1) for a, b in zip(ordered, ordered[1:], strict=False) if b > a + 1]
