"""Projection.payloads: a projection is handed only the payload types it declares, and never misses a row."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from consumers.chunks import prepare_chunk
from consumers.projections import PROJECTIONS, LoggedEvent, Projection, events
from schemas import InputsLogged, MetricsLogged, encode
from schemas.events import PAYLOAD_TYPES
from tests.unit.schemas.test_codec import PAYLOADS, make_event
from tests.unit.schemas.test_gateway_events import GATEWAY_PAYLOADS
from tests.unit.schemas.test_model_events import MODEL_PAYLOADS

SAMPLES: list[Any] = [*PAYLOADS, *MODEL_PAYLOADS, *GATEWAY_PAYLOADS]


def logged(payload: Any, offset: int) -> LoggedEvent:
    return LoggedEvent(make_event(payload, seq=offset + 1), 2, offset, "fp")


def rows(projection: Projection, events: list[LoggedEvent]) -> list[list[Any]]:
    """What `project` makes of the events, called for every one of them (no filter)."""
    block = projection.make_block(projection.table, projection.columns)
    for event in events:
        projection.project(event, block)
    return block.data


def test_the_samples_cover_every_payload_type() -> None:
    assert {type(p) for p in SAMPLES} == set(PAYLOAD_TYPES)


@pytest.mark.parametrize("projection", [p for p in PROJECTIONS if p.payloads is not None], ids=lambda p: p.table)
def test_a_projection_makes_no_row_of_a_payload_it_does_not_declare(projection: Projection) -> None:
    assert projection.payloads is not None
    for i, payload in enumerate(SAMPLES):
        if type(payload) not in projection.payloads:
            assert not any(rows(projection, [logged(payload, i)])), (projection.table, type(payload).__name__)


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.table)
def test_filtered_blocks_hold_the_rows_of_every_event_in_log_order(projection: Projection) -> None:
    events = [logged(payload, i) for i, payload in enumerate(SAMPLES * 2)]
    by_type: dict[type, list[LoggedEvent]] = {}
    for event in events:
        by_type.setdefault(type(event.event.payload), []).append(event)
    assert projection.block_of(events, by_type).data == rows(projection, events)
    assert projection.block(events).data == rows(projection, events)


def test_a_prepared_chunk_has_the_rows_of_unfiltered_projections() -> None:
    raws = [(encode(make_event(p, seq=i + 1)), make_event(p).run_id.encode(), i, 0) for i, p in enumerate(PAYLOADS)]
    prepared = prepare_chunk(0, raws, PROJECTIONS)
    assert sum(len(block) > 0 for block in prepared.blocks) >= 8 and not prepared.dead
    unfiltered = [Projection(p.table, p.columns, p.project, p.make_block, p.merged) for p in PROJECTIONS]
    plain = prepare_chunk(0, raws, unfiltered)
    for a, b in zip(prepared.blocks, plain.blocks, strict=True):
        assert a.table == b.table and a.data == b.data, a.table


@pytest.mark.parametrize("payload", [p for p in SAMPLES if not isinstance(p, MetricsLogged)],
                         ids=lambda p: type(p).__name__)
def test_payload_json_is_what_asdict_renders(payload: Any) -> None:
    """The events row's JSON is made without `dataclasses.asdict`'s deep copies: the same text, key for key."""
    data = asdict(payload)
    if isinstance(payload, InputsLogged):
        data["datasets"] = [{k: v for k, v in d.items() if k != "tags" or v} for d in data["datasets"]]
        if not data["model_ids"]:
            del data["model_ids"]
    assert events.payload_json(payload) == json.dumps(data, default=events._json_default, sort_keys=True)
