"""Schema v7: dataset inputs keep all their tags; inputs written by older versions decode with none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from schemas import DatasetInput, InputsLogged, Producer, RunEvent
from schemas.catalog import default_catalog
from schemas.codec import decode, encode

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TAGGED = DatasetInput("train", "f0f3e026", source_type="local", context="train",
                      tags=(("foo", "baz"), ("mlflow.data.context", "train")))


def logged(dataset: DatasetInput) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), "c" * 32, "1", 3, AT, Producer("h", 1, "u", "0"), InputsLogged([dataset]))


def test_the_current_version_keeps_every_input_tag_in_order() -> None:
    assert default_catalog().current.version >= 7  # kept by every later version
    decoded = decode(encode(logged(TAGGED))).payload
    assert isinstance(decoded, InputsLogged)
    assert decoded.datasets == [TAGGED]
    assert decoded.datasets[0].tags == (("foo", "baz"), ("mlflow.data.context", "train"))


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6])
def test_inputs_written_by_an_older_version_decode_without_tags(version: int) -> None:
    writer = next(v for v in default_catalog().versions if v.version == version)
    decoded = decode(encode(logged(TAGGED), version=writer)).payload
    assert isinstance(decoded, InputsLogged)
    assert decoded.datasets == [DatasetInput("train", "f0f3e026", source_type="local", context="train")]


def test_model_inputs_travel_in_v7_and_older_inputs_have_none() -> None:
    event = RunEvent(str(uuid.uuid4()), "c" * 32, "1", 4, AT, Producer("h", 1, "u", "0"),
                     InputsLogged([], ["m-" + "a" * 32]))
    assert decode(encode(event)).payload == InputsLogged([], ["m-" + "a" * 32])
    older = next(v for v in default_catalog().versions if v.version == 6)
    assert decode(encode(event, version=older)).payload == InputsLogged([], [])
