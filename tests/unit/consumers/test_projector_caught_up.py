"""The projector tells its host once per move of what readers see (event_offsets' positions) when it has nothing
more to read, so in-memory states can catch up without waiting for a question."""

from __future__ import annotations

from consumers.derived import OFFSETS
from consumers.projector import Projector
from consumers.settings import ProjectorSettings


def test_each_move_is_announced_once_while_idle() -> None:
    projector = Projector(ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1"), client=None)  # type: ignore[arg-type]
    calls: list[dict[int, int]] = []
    projector._announce_moved()  # no listener: nothing to do
    projector.on_caught_up = lambda: calls.append(dict(projector.positions[OFFSETS.table]))
    projector._announce_moved()
    assert calls == [], "nothing projected yet"
    projector.positions[OFFSETS.table].update({0: 5, 1: 2})
    projector._announce_moved()
    projector._announce_moved()  # idle again, nothing new
    projector.positions["events"][0] = 9  # the events table moves first: readers do not see it yet
    projector._announce_moved()
    projector.positions[OFFSETS.table][0] = 9
    projector._announce_moved()
    assert calls == [{0: 5, 1: 2}, {0: 9, 1: 2}]
