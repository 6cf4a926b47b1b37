"""Schema version 8: the AI gateway's secrets and model definitions as events, with only encrypted values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import InvalidEventError, Producer, RunEvent, decode, default_catalog, encode, validate_event
from schemas.gateway_events import (
    GATEWAY_EVENTS,
    GatewayModelDefinitionCreated,
    GatewayModelDefinitionDeleted,
    GatewayModelDefinitionUpdated,
    GatewaySecretCreated,
    GatewaySecretDeleted,
    GatewaySecretUpdated,
)

SID = "s-" + "a" * 32
DID = "d-" + "b" * 32
GATEWAY_PAYLOADS: list[Any] = [
    GatewaySecretCreated(SID, "openai-key", "c2VhbGVk", "d3JhcHBlZA==", 1, {"api_key": "sk-...2345"}, "openai",
                         {"auth_mode": "api_key"}, "ana"),
    GatewaySecretCreated(SID, "bare", "c2VhbGVk", "d3JhcHBlZA==", 1, {"api_key": "***"}),
    GatewaySecretUpdated(SID, "bmV3", "ZGVr", 1, {"api_key": "new...1234"}, {}, "bob"),
    GatewaySecretUpdated(SID),
    GatewaySecretDeleted(SID),
    GatewayModelDefinitionCreated(DID, "gpt", SID, "openai", "gpt-4", "ana"),
    GatewayModelDefinitionUpdated(DID, model_name="gpt-4-turbo"),
    GatewayModelDefinitionUpdated(DID, "gpt2", SID, "anthropic", "claude", "bob"),
    GatewayModelDefinitionDeleted(DID),
]
AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def event(payload: Any, experiment_id: str = "") -> RunEvent:
    return RunEvent(str(uuid.uuid4()), "", experiment_id, 1, AT, Producer("h", 1, "u", "test"), payload)


@pytest.mark.parametrize("payload", GATEWAY_PAYLOADS, ids=lambda p: type(p).__name__)
def test_every_gateway_payload_round_trips(payload: Any) -> None:
    original = event(payload)
    assert decode(encode(original)) == original
    assert validate_event(original) is original  # neither a run nor an experiment is needed


def test_gateway_records_are_new_branches_at_the_end_of_v8() -> None:
    catalog = default_catalog()
    assert catalog.current.version == 8
    names = [t["name"].rsplit(".", 1)[-1] for t in _union(catalog.current.parsed)]
    previous = [t["name"].rsplit(".", 1)[-1] for t in _union(catalog.versions[-2].parsed)]
    assert names[: len(previous)] == previous
    assert names[len(previous):] == [cls.__name__ for cls in GATEWAY_EVENTS]


def test_a_gateway_event_cannot_be_written_with_an_older_version() -> None:
    with pytest.raises(ValueError):
        encode(event(GatewaySecretDeleted(SID)), version=default_catalog().versions[-2])


def test_other_runless_events_still_need_their_experiment() -> None:
    from schemas.model_events import LoggedModelTagsSet

    with pytest.raises(InvalidEventError, match="experiment_id"):
        validate_event(event(LoggedModelTagsSet("m-" + "c" * 32, {"a": "b"})))


def _union(parsed: Any) -> list[dict[str, Any]]:
    payload = next(f for f in parsed["fields"] if f["name"] == "payload")
    return list(payload["type"])
