"""A decoded event and where it sits in the log: what decoding gives and every reader of the log takes (the
projections, the alert worker). Kept apart from `consumers.projections` so that a reader which projects nothing
(the alert worker's process) does not import the projections' Arrow code (~30 MB of its RSS)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import RunEvent


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A decoded event and where it sits in the log."""

    event: RunEvent
    partition: int
    offset: int
    fingerprint: str
