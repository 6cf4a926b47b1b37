"""How many messages the projector takes per consumed batch: bounded by count and by the time writing takes.

A consumed batch becomes visible only when every table of it is written, so its size bounds freshness: a
backlog taken 5,000 messages at a time (5M metric points) is a batch of seconds, and a point at its end waits
for all of it. The budget learns how fast batches are written and sizes the next one to be written in about
`target_s`; the consume timeout bounds how long a batch that is not full waits before it is written. Which
messages are written, and how (positions, deduplication, dead letters), does not depend on the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

FIXED_SHARE = 1 / 3
"""At most this share of a full batch's time goes to what every batch pays whatever its size (the statements'
fixed cost): under a load where that cost nears the target, batches stay big enough to keep throughput."""


@dataclass
class BatchBudget:
    """Sizes consumed batches so that one is written in about `target_s` (0: always `max_messages`)."""

    max_messages: int
    target_s: float
    min_messages: int = 20
    smoothing: float = 0.5
    """Weight of the newest observation in the per-message and fixed-cost estimates."""
    _size: int = 0
    _per_message_s: float | None = None
    _fixed_s: float | None = None

    def __post_init__(self) -> None:
        self.min_messages = max(1, min(self.min_messages, self.max_messages))
        self._size = self.max_messages if self.target_s <= 0 else max(self.min_messages, self.max_messages // 50)

    def size(self) -> int:
        """How many messages the next consume may return."""
        return self._size

    def observe(self, messages: int, seconds: float, requested: int) -> None:
        """A batch of `messages` (of `requested` at most) was written in `seconds`; size the next one."""
        if self.target_s <= 0 or messages <= 0:
            return
        seconds = max(seconds, 1e-4)
        if messages <= max(2, self.min_messages // 10):  # a trickle: nearly all its time is the fixed cost
            self._fixed_s = self._blend(self._fixed_s, seconds)
            return
        full = messages >= requested
        if not full and seconds <= self.target_s:
            return  # the consumer had no more to give: says nothing about how many fit in the target
        fixed = min(self._fixed_s or 0.0, seconds / 2)
        self._per_message_s = self._blend(self._per_message_s, (seconds - fixed) / messages)
        budget = max(self.target_s, (self._fixed_s or 0.0) / FIXED_SHARE)
        wanted = (budget - fixed) / self._per_message_s
        grown = min(wanted, 2 * messages) if full else wanted  # grow step by step, shrink at once
        self._size = int(min(self.max_messages, max(self.min_messages, grown)))

    def _blend(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - self.smoothing) * old + self.smoothing * new
