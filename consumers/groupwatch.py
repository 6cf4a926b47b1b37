"""How long the projector's consumer has been out of its group, read from librdkafka's statistics.

After its group coordinator's broker dies, a librdkafka consumer times out its session, revokes its assignment and
rejoins; sometimes it never comes back (librdkafka issues #2944, #3082, #3396; seen in the three-broker test: after
"Consumer group session timed out ... Not coordinator", no partition was assigned again for minutes). A fresh
consumer joins at once. This module only decides when; the projector replaces its consumer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


def group_state(stats_json: str) -> tuple[str, str] | None:
    """(state, join_state) of the consumer group in a librdkafka statistics document, None without a group."""
    try:
        cgrp = json.loads(stats_json).get("cgrp")
    except (ValueError, AttributeError):
        return None
    if not isinstance(cgrp, dict):
        return None
    return str(cgrp.get("state", "")), str(cgrp.get("join_state", ""))


@dataclass
class GroupWatch:
    """Remembers since when the group has not been steady; says when that has lasted `stuck_after_s`."""

    stuck_after_s: float
    since: float | None = None
    last: tuple[str, str] = ("", "")

    def observe(self, state: tuple[str, str], now: float) -> None:
        self.last = state
        if state == ("up", "steady"):
            self.since = None
        elif self.since is None:
            self.since = now

    def stuck(self, now: float) -> bool:
        return self.since is not None and now - self.since >= self.stuck_after_s

    def reset(self, now: float) -> None:
        """A new consumer starts joining now: its time out of the group counts from here."""
        self.since, self.last = now, ("", "")
