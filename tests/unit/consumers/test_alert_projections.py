"""Alert events become rows of alert_rules, alert_firings and alert_deliveries; other events add none."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.projections import alerts
from consumers.projections.base import LoggedEvent
from schemas import Producer, RunEvent, TagsSet
from schemas.alerts import AlertDelivered, AlertFired, AlertRuleCreated, AlertRuleDeleted

AT = datetime(2026, 12, 1, tzinfo=UTC)
RUN = "a" * 32


def logged(payload: object, offset: int, run_id: str = "") -> LoggedEvent:
    event = RunEvent(f"00000000-0000-0000-0000-{offset:012d}", run_id, "7", 1, AT, Producer("h", 1, "ann", "t"),
                     payload)  # type: ignore[arg-type]
    return LoggedEvent(event, 2, offset, "")


def rows(projection: alerts.Projection, *events: LoggedEvent) -> list[dict[str, object]]:
    block = projection.block(events)
    return [dict(zip(block.columns, values, strict=True)) for values in zip(*block.data, strict=True)]


def test_rule_events_are_rows_with_who_and_where() -> None:
    created = AlertRuleCreated("r", "high", "threshold", "http://h/", "7", "loss", ">", 2.0)
    got = rows(alerts.RULES, logged(created, 10), logged(AlertRuleDeleted("r"), 11), logged(TagsSet({"a": "b"}), 12,
                                                                                            RUN))
    assert [(r["event_type"], r["deleted"], r["threshold"], r["user"], r["kafka_offset"]) for r in got] == [
        ("AlertRuleCreated", 0, 2.0, "ann", 10), ("AlertRuleDeleted", 1, None, "ann", 11)]


def test_firings_and_deliveries_name_their_run() -> None:
    fired = AlertFired("f", "r", RUN, "nan", "text", 1, 99, float("nan"), "loss", 3)
    got = rows(alerts.FIRINGS, logged(fired, 20))
    assert got[0]["run_id"] == RUN and got[0]["source_offset"] == 99 and got[0]["experiment_id"] == "7"
    delivered = rows(alerts.DELIVERIES, logged(AlertDelivered("f", "r", RUN, 200, 2), 21))
    assert [(d["firing_id"], d["run_id"], d["status"], d["attempts"]) for d in delivered] == [("f", RUN, 200, 2)]
