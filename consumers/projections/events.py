"""The audit log: every message of the topic, decodable or not, with its coordinates."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

import numpy as np

from consumers.projections.base import Block, LoggedEvent, Projection
from schemas import InputsLogged, MetricsLogged, Payload

COLUMNS = (
    "event_id", "run_id", "experiment_id", "seq", "event_type", "event_time", "producer_host", "producer_pid",
    "producer_user", "sdk_version", "schema_fingerprint", "payload", "error", "kafka_partition", "kafka_offset",
)
NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def _plain(value: Any) -> Any:
    """What `dataclasses.asdict` makes of a value, as `json.dumps` renders it (tuples as lists), without asdict's
    deep copies: about half the time per payload (every events row but a metric batch pays it)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def payload_json(payload: Payload) -> str:
    """The payload as JSON. A metric batch is summarised: its points live in the metrics table."""
    if isinstance(payload, MetricsLogged):  # the text json.dumps gives the summary dict, made directly (per event)
        steps = payload.steps
        low, high = (int(np.minimum.reduce(steps)), int(np.maximum.reduce(steps))) if len(steps) else ("null", "null")
        keys = json.dumps(payload.names)
        return f'{{"keys": {keys}, "points": {len(payload)}, "min_step": {low}, "max_step": {high}}}'
    data = _plain(payload)
    if isinstance(payload, InputsLogged):  # what schema v7 added is left out when empty: older JSON stays as it was
        data["datasets"] = [{k: v for k, v in d.items() if k != "tags" or v} for d in data["datasets"]]
        if not data["model_ids"]:
            del data["model_ids"]
    return json.dumps(data, default=_json_default, sort_keys=True)


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    p = e.producer
    block.append(
        e.event_id, e.run_id, e.experiment_id, e.seq, e.type, e.event_time, p.host, p.pid, p.user,
        p.sdk_version, logged.fingerprint, payload_json(e.payload), "", logged.partition, logged.offset,
    )


def dead_letter_row(partition: int, offset: int, key: str, reason: str, message: str, fingerprint: str,
                    at: datetime) -> tuple[Any, ...]:
    """The events row that records a message sent to the dead-letter topic (so the position moves past it)."""
    detail = json.dumps({"reason": reason, "message": message})
    return (NIL_UUID, key, "", 0, "DeadLetter", at, "", 0, "", "", fingerprint, detail, reason, partition, offset)


def duplicate_row(logged: LoggedEvent, at: datetime) -> tuple[Any, ...]:
    """The events row that records a second delivery of an event already projected (counted once)."""
    e = logged.event
    detail = json.dumps({"duplicate_of": e.event_id, "type": e.type})
    return (NIL_UUID, e.run_id, e.experiment_id, e.seq, "Duplicate", at, e.producer.host, e.producer.pid,
            e.producer.user, e.producer.sdk_version, logged.fingerprint, detail, "", logged.partition, logged.offset)


PROJECTION = Projection("events", COLUMNS, project)
