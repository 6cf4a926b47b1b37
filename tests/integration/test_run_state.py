"""run_state, each run as it stands now: kept by the projector from the log through changes, deletes, restores,
re-deliveries and events that arrive late; equal to the fold of runs/params/tags; rebuilt and verified from the log;
and what a search answers from it."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer as KafkaProducer

from consumers.migrate import migrations
from consumers.projections import run_state as projection
from consumers.projections.base import LoggedEvent
from consumers.sink import ClickHouseSink
from query_api.queries import run_state as run_state_reads
from query_api.queries import runs as run_queries
from schemas import (
    ExperimentCreated,
    ParamsLogged,
    Producer,
    RunDeleted,
    RunEvent,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
    encode,
)
from schemas.ids import experiment_id_for
from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration
EXPERIMENT = "state-it"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2262, 1, 1, tzinfo=UTC)  # as of then: the old fold of runs, params and tags


def _event(run_id: str, seq: int, seconds: float, payload: object) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, experiment_id_for(EXPERIMENT), seq, T0 + timedelta(seconds=seconds),
                    Producer("h", 1, "u", "t"), payload)  # type: ignore[arg-type]


def _histories() -> dict[str, list[RunEvent]]:
    """Runs whose state changes after creation, in the order they are sent (one event twice, one sent late)."""
    changing, deleted, restored, plain = (uuid.uuid4().hex for _ in range(4))
    dev = _event(changing, 3, 3, TagsSet({"stage": "dev", "team": "vision"}))
    return {
        "changing": [
            _event(changing, 1, 1, RunStarted("first", "ana", source="git:abc")),
            _event(changing, 2, 2, ParamsLogged({"lr": "0.1", "opt": "adam"})),
            dev,
            _event(changing, 5, 5, TagsSet({"stage": "prod"})),
            dev,  # re-delivered: counts once
            _event(changing, 6, 6, TagDeleted("team")),
            _event(changing, 7, 7, ParamsLogged({"lr": "0.2"})),
            _event(changing, 8, 8, RunRenamed("second")),
            _event(changing, 4, 4, TagsSet({"stage": "staging", "late": "yes"})),  # arrives after newer changes
            _event(changing, 9, 9, RunStatusChanged(RunStatus.FINISHED, T0 + timedelta(seconds=9))),
        ],
        "deleted": [_event(deleted, 1, 1, RunStarted("deleted", "bo")),
                    _event(deleted, 2, 2, ParamsLogged({"opt": "sgd"})),
                    _event(deleted, 3, 3, RunDeleted("gone"))],
        "restored": [_event(restored, 1, 1, RunStarted("restored", "bo")),
                     _event(restored, 2, 2, RunDeleted("oops")),
                     _event(restored, 3, 3, RunRestored()),
                     _event(restored, 4, 4, RunStatusChanged(RunStatus.FAILED, T0 + timedelta(seconds=4)))],
        "plain": [_event(plain, 1, 1, RunStarted("plain", "cy", start_time=T0 - timedelta(days=1))),
                  _event(plain, 2, 2, TagsSet({"stage": "prod"}))],
    }


@pytest.fixture(scope="module")
def runs(stack: Stack) -> dict[str, str]:
    """name -> run id of the runs of _histories, sent through Kafka and projected."""
    producer = KafkaProducer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers})
    experiment = _event("", 1, 0, ExperimentCreated(EXPERIMENT))
    producer.produce(stack.settings.store.topic, value=encode(experiment), key=experiment.experiment_id)
    ids = {}
    for name, events in _histories().items():
        ids[name] = events[0].run_id
        for event in events:
            producer.produce(stack.settings.store.topic, value=encode(event), key=event.run_id)
            producer.flush(10)
    stack.wait_projected()
    return ids


def _client(stack: Stack) -> Any:
    return stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]


def _search(stack: Stack, **body: object) -> list[dict[str, Any]]:
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], **body})
    assert response.status_code == 200, response.text
    return response.json()["runs"]


def _names(stack: Stack, filter: str = "", **body: object) -> list[str]:
    return [r["name"] for r in _search(stack, filter=filter, **body)]


def _table(stack: Stack, table: str = "run_state") -> list[tuple[Any, ...]]:
    return [tuple(row) for row in _client(stack).query(
        f"SELECT * FROM `{table}` FINAL ORDER BY experiment_id, run_id, kafka_partition").result_rows]


def test_a_run_shows_its_latest_state(stack: Stack, runs: dict[str, str]) -> None:
    run = stack.api.get(f"/api/v1/runs/{runs['changing']}").json()
    assert (run["name"], run["status"], run["user"], run["source"]) == ("second", "FINISHED", "ana", "git:abc")
    assert run["params"] == {"lr": "0.2", "opt": "adam"}
    assert run["tags"] == {"late": "yes", "stage": "prod"}  # the late "staging" is older than "prod"; team deleted
    assert run["end_time"] is not None and run["deleted"] is False
    assert stack.api.get(f"/api/v1/runs/{runs['deleted']}").json()["deleted"] is True
    assert stack.api.get(f"/api/v1/runs/{runs['restored']}").json()["deleted"] is False


def test_run_state_equals_the_fold_of_runs_params_and_tags(stack: Stack, runs: dict[str, str]) -> None:
    ids = list(runs.values())
    client = _client(stack)
    from_state = run_queries.fetch_runs(client, ids)
    from_fold = run_queries.fetch_runs(client, ids, as_of=FAR_FUTURE)
    assert len(from_state) == 4 and from_state == from_fold


@pytest.mark.parametrize(("filter", "expected"), [
    ("params.lr = '0.2'", ["second"]),
    ("params.lr = '0.1'", []),                                   # changed since
    ("params.opt = 'adam'", ["second"]),
    ("params.opt IS NULL", ["plain", "restored"]),               # the deleted run is not in the active view
    ("tags.stage = 'prod'", ["plain", "second"]),
    ("tags.stage = 'staging'", []),                              # sent late, older than "prod"
    ("tags.team IS NULL", ["plain", "restored", "second"]),       # deleted tags are absent
    ("tags.team = 'vision'", []),
    ("tags.late = 'yes' AND params.lr > 0.15", ["second"]),
    ("attributes.status = 'FINISHED'", ["second"]),
    ("attributes.status = 'FAILED'", ["restored"]),
    ("attributes.run_name = 'first'", []),                       # renamed
    ("attributes.run_name LIKE 's%' OR attributes.user = 'cy'", ["plain", "second"]),
])
def test_search_answers_from_the_latest_state(stack: Stack, runs: dict[str, str], filter: str,
                                               expected: list[str]) -> None:
    assert _names(stack, filter, order_by=["attributes.run_name ASC"]) == expected


def test_search_views_and_order_of_deleted_and_restored_runs(stack: Stack, runs: dict[str, str]) -> None:
    newest_first = _names(stack)  # by start time: the plain run started a day earlier
    assert set(newest_first[:2]) == {"second", "restored"} and newest_first[2:] == ["plain"]
    assert _names(stack, run_view="deleted") == ["deleted"]
    assert set(_names(stack, run_view="all")) == {"second", "restored", "deleted", "plain"}
    by_lr = _names(stack, order_by=["params.lr DESC"])
    assert by_lr[0] == "second" and set(by_lr[1:]) == {"plain", "restored"}  # runs without the param come last
    by_tag = _names(stack, order_by=["tags.stage ASC", "attributes.run_name ASC"], run_view="all")
    assert by_tag == ["plain", "second", "deleted", "restored"]
    page = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "max_results": 2,
                                                       "order_by": ["attributes.run_name ASC"]}).json()
    rest = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "max_results": 2,
                                                       "order_by": ["attributes.run_name ASC"],
                                                       "page_token": page["next_page_token"]}).json()
    assert [r["name"] for r in page["runs"] + rest["runs"]] == ["plain", "restored", "second"]


def test_rows_applied_twice_or_in_any_order_merge_to_the_same_state(stack: Stack, runs: dict[str, str]) -> None:
    """What the engine guarantees whatever the projector does: a block re-applied (a crash between two tables'
    inserts) or rows in another order (other batches, merges) change nothing."""
    client = _client(stack)
    logged = [LoggedEvent(e, 0, offset, "f") for offset, e in enumerate(_histories()["changing"]) if offset != 4]
    states = []
    for name, order in (("forward", logged), ("backward", logged[::-1]), ("twice", logged + logged)):
        table = f"run_state_{name}"
        client.command(f"DROP TABLE IF EXISTS {table}")
        client.command(f"CREATE TABLE {table} AS run_state")
        sink = ClickHouseSink(client)
        for i, event in enumerate(order):  # one insert per row: every row in a part of its own
            block = projection.PROJECTION.block([event])
            block.table = table
            sink.insert(block, token=f"{name}-{i}")
        states.append([row[2:] for row in _table(stack, table)])
        client.command(f"DROP TABLE {table}")
    assert states[0] == states[1] == states[2] and len(states[0]) == 1
    params = states[0][0][projection.COLUMNS.index("params") - 2]
    assert run_state_reads.params_of(params) == {"lr": "0.2", "opt": "adam"}


def test_the_migration_fills_the_same_table_from_runs_params_and_tags(stack: Stack, runs: dict[str, str]) -> None:
    """A database projected before migration 0018 gets run_state from the tables it holds: the same rows."""
    client = _client(stack)
    client.command("DROP TABLE IF EXISTS run_state_backfill")
    client.command("CREATE TABLE run_state_backfill AS run_state")
    statements = next(s for version, _, s in migrations() if version == 18)
    for statement in statements:
        if statement.startswith("INSERT INTO run_state"):
            client.command(statement.replace("INSERT INTO run_state", "INSERT INTO run_state_backfill", 1))
    try:
        assert _table(stack, "run_state_backfill") == _table(stack)
    finally:
        client.command("DROP TABLE run_state_backfill")


def _finished(stack: Stack, kind: str) -> dict[str, Any] | None:
    status: dict[str, Any] = stack.api.get(f"/api/v1/admin/{kind}").json()
    return status if status["state"] != "running" else None


def test_a_rebuild_gives_the_same_table_and_answers_and_verify_agrees(stack: Stack, runs: dict[str, str]) -> None:
    before = _table(stack)
    searched = {f: _search(stack, filter=f) for f in ("", "params.lr = '0.2'", "tags.stage = 'prod'")}
    deleted = _search(stack, run_view="deleted")
    for kind in ("rebuild", "verify"):
        started = stack.api.post(f"/api/v1/admin/{kind}", json={"only": ["run_state"]})
        assert started.status_code == 202, started.text
        status = wait_for(functools.partial(_finished, stack, kind), 120, 0.2, f"{kind} to finish")
        assert status["state"] == "done" and status["tables"] == ["run_state"], status
        assert status.get("differences", []) == [], status
    assert _table(stack) == before
    assert {f: _search(stack, filter=f) for f in searched} == searched
    assert _search(stack, run_view="deleted") == deleted


def test_a_search_page_shapes_its_runs_as_a_run_read_does(stack: Stack, runs: dict[str, str]) -> None:
    """A search reads its page's state with its ids; the runs it answers are the ones a read of each gives."""
    found = _search(stack, run_view="all", order_by=["attributes.run_name ASC"])
    assert [r["name"] for r in found] == ["deleted", "plain", "restored", "second"]
    read = [stack.api.get(f"/api/v1/runs/{r['run_id']}").json() for r in found]
    assert found == [{k: v for k, v in r.items() if k != "inputs"} for r in read]  # a run read adds its inputs
    assert found[-1]["params"] == {"lr": "0.2", "opt": "adam"} and found[-1]["tags"] == {"late": "yes", "stage": "prod"}
