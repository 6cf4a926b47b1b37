"""Rebuild and verify: every table replayed from the log through the projector's code, swapped in or compared."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from consumers.clickhouse import connect
from consumers.maintenance import (
    Checksum,
    Difference,
    MaintenanceJob,
    checksum_sql,
    compare,
    compare_sql,
    streamed_sql,
    sums_sql,
)
from consumers.projections.base import Block, LoggedEvent, Projection
from consumers.runner import ProjectorThread
from runstream.stack import build_app
from schemas import ArtifactLogged, DatasetInput, InputsLogged, ParamsLogged, RunDeleted, RunRestored
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

TABLES = ["experiments", "experiment_changes", "experiment_tags",
          "runs", "params", "tags", "run_state", "artifacts", "inputs", "run_model_inputs", "metric_chunks",
          "logged_models",
          "logged_model_kv", "logged_model_metrics", "run_outputs", "logged_model_artifacts", "registry_changes",
          "alert_rules", "alert_firings", "alert_deliveries", "gateway_changes", "events", "run_metric_summary",
          "event_offsets"]


def _client(stack: Stack) -> Any:
    return stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]


def _sweep(stack: Stack, runs: int = 6, steps: int = 50) -> list[str]:
    """Runs with tag overwrites and removals, params, status changes, a delete and a restore."""
    tracker = stack.tracker(metrics_flush_interval_s=0.05)
    ids = []
    for i in range(runs):
        run = tracker.start_run("rebuild-it", f"r{i}", params={"lr": 0.1 * (i + 1)}, tags={"team": "a", "tmp": "x"})
        for step in range(steps):
            run.log_metrics({"loss": 1.0 / (step + 1 + i), "acc": step / steps}, step=step)
        run.set_tag("team", "b")
        run.delete_tag("tmp")
        run.log_param("batch", 32 * (i + 1))
        run._publish(ArtifactLogged("model.bin", f"file:///tmp/{i}/model.bin", 10 + i, f"sha256:{i:064x}"))
        run._publish(InputsLogged([DatasetInput("train", f"d{i}", context="training")]))
        run.end("FAILED" if i % 2 else "FINISHED")
        if i == 1:
            run._publish(RunDeleted("cleanup"))
            run._publish(RunRestored("oops"))
        if i == 2:
            run._publish(RunDeleted("for good"))
        ids.append(run.run_id)
    tracker.close()
    _mlflow_lifecycle(stack)
    stack.wait_projected()
    return ids


def _mlflow_lifecycle(stack: Stack) -> None:
    """What only the MLflow front door writes: experiment renames, deletes, restores, tags; run renames."""
    api = "/api/2.0/mlflow"
    name = f"rebuild-mlflow-{uuid.uuid4().hex[:8]}"
    created = stack.api.post(f"{api}/experiments/create", json={"name": name, "tags": [
        {"key": "owner", "value": "ana"}, {"key": "tmp", "value": "x"}]}).json()
    experiment_id = created["experiment_id"]
    for path, body in (("experiments/set-experiment-tag", {"key": "stage", "value": "dev"}),
                       ("experiments/delete-experiment-tag", {"key": "tmp"}),
                       ("experiments/update", {"new_name": f"{name}-renamed"}),
                       ("experiments/delete", {}), ("experiments/restore", {})):
        answer = stack.api.post(f"{api}/{path}", json={"experiment_id": experiment_id, **body})
        assert answer.status_code == 200, (path, answer.text)
    run = stack.api.post(f"{api}/runs/create", json={"experiment_id": experiment_id, "run_name": "first"}).json()
    run_id = run["run"]["info"]["run_id"]
    assert stack.api.post(f"{api}/runs/update", json={"run_id": run_id, "run_name": "second",
                                                      "status": "FINISHED"}).status_code == 200


def _counts(stack: Stack) -> dict[str, int]:
    client = _client(stack)
    final = {"run_metric_summary", "event_offsets", "run_state"}  # aggregating: rows before merges depend on inserts
    return {t: client.query(f"SELECT count() FROM `{t}`{' FINAL' if t in final else ''}").result_rows[0][0]
            for t in TABLES}


def _job(stack: Stack, kind: str, path: str = "/api/v1/admin", **body: Any) -> dict[str, Any]:
    started = stack.api.post(f"{path}/{kind}", json=body or None)
    assert started.status_code == 202, started.text
    return wait_for(lambda: _finished(stack, f"{path}/{kind}"), 120, 0.2, f"{kind} to finish")


def _finished(stack: Stack, path: str) -> dict[str, Any] | None:
    status = stack.api.get(path).json()
    return status if status["state"] != "running" else None


def test_rebuild_swaps_in_identical_tables_and_verify_agrees(stack: Stack) -> None:
    ids = _sweep(stack)
    searched = stack.api.post("/api/v1/runs/search", json={"experiment_names": ["rebuild-it"]}).json()
    mlflow_view = stack.api.post("/api/2.0/mlflow/experiments/search", json={"filter": "name LIKE 'rebuild-mlflow-%'"}
                                 ).json()["experiments"][0]
    assert mlflow_view["name"].endswith("-renamed")
    assert [t["key"] for t in mlflow_view["tags"]] == ["owner", "stage"]
    history = stack.api.get(f"/api/v1/runs/{ids[1]}/history").json()
    before = _counts(stack)

    status = _job(stack, "rebuild")
    assert status["state"] == "done", status
    assert status["counts_before"] == before and status["counts_after"] == before
    assert status["events"] > 0 and status["points"] == 6 * 50 * 2 and status["paused_s"] is not None
    assert set(status["tables"]) == set(TABLES)
    assert _counts(stack) == before
    leftovers = _client(stack).query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                                     "AND name LIKE '%\\_\\_rebuild'").result_rows
    assert leftovers == []
    # What users see is unchanged, down to the audit trail (time projected aside).
    assert stack.api.post("/api/v1/runs/search", json={"experiment_names": ["rebuild-it"]}).json() == searched
    assert stack.api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": mlflow_view["experiment_id"]}
                         ).json()["experiment"] == mlflow_view
    after = stack.api.get(f"/api/v1/runs/{ids[1]}/history").json()
    strip = lambda h: [{k: v for k, v in e.items() if k != "projected_at"} for e in h["events"]]  # noqa: E731
    assert strip(after) == strip(history)

    status = _job(stack, "verify")
    assert status["state"] == "done" and status["differences"] == [], status

    # The projector carries on into the swapped-in tables, from where it was.
    tracker = stack.tracker()
    with tracker.start_run("rebuild-it", "after") as run:
        run.log_metric("loss", 0.5, step=0)
    tracker.close()
    stack.wait_projected()
    assert stack.api.get(f"/api/v1/runs/{run.run_id}").json()["metrics"]["loss"]["count"] == 1
    assert _job(stack, "verify")["differences"] == []


def test_verify_names_the_run_whose_rows_were_damaged(stack: Stack) -> None:
    ids = _sweep(stack, runs=3, steps=20)
    client = _client(stack)
    client.command("ALTER TABLE params UPDATE value = 'tampered' WHERE run_id = {r:String} AND key = 'lr' "
                   "SETTINGS mutations_sync = 1", parameters={"r": ids[0]})
    damaged = "run_id = {r:String} AND has(step, 3) AND key = 'loss'"  # the chunk (a row) holding that point
    lost = int(client.query(f"SELECT sum(length(step)) FROM metric_chunks WHERE {damaged}",
                            parameters={"r": ids[2]}).result_rows[0][0])
    assert lost > 0
    client.command(f"ALTER TABLE metric_chunks DELETE WHERE {damaged} SETTINGS mutations_sync = 1",
                   parameters={"r": ids[2]})
    status = _job(stack, "verify")
    assert status["state"] == "done"
    found = {(d["table"], d["run_id"]): d for d in status["differences"]}
    assert set(found) == {("params", ids[0]), ("metric_chunks", ids[2])}, status["differences"]
    assert found[("params", ids[0])]["what"] == "same row count, different contents"
    # metric_chunks is checksummed per point (summed with numpy, never stored): the chunk's points are missing
    assert found[("metric_chunks", ids[2])]["live_rows"] + lost == found[("metric_chunks", ids[2])]["replayed_rows"]

    # A rebuild of the damaged tables repairs them (`metrics` names the table behind the view); verify agrees.
    status = _job(stack, "rebuild", only=["params", "metrics"])
    assert status["state"] == "done" and set(status["tables"]) == {"params", "metric_chunks", "run_metric_summary"}
    assert _job(stack, "verify")["differences"] == []


def test_a_rebuild_while_a_producer_writes_loses_and_doubles_nothing(stack: Stack) -> None:
    _sweep(stack, runs=2, steps=10)
    stop = threading.Event()
    tracker = stack.tracker(metrics_flush_interval_s=0.02, metrics_batch_points=50)
    logged = {"points": 0}
    run = tracker.start_run("rebuild-live", "writer")

    def write() -> None:
        step = 0
        while not stop.is_set():
            run.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.5}, step=step)
            logged["points"] += 2
            step += 1
            time.sleep(0.0005)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(1.0)
        status = _job(stack, "rebuild")
        assert status["state"] == "done", status
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join()
    run.end()
    tracker.close()
    stack.wait_projected()
    got = stack.api.get(f"/api/v1/runs/{run.run_id}").json()["metrics"]
    assert logged["points"] > 1000
    assert got["loss"]["count"] + got["acc"]["count"] == logged["points"]
    rows = _client(stack).query("SELECT count(), uniqExact(step, key) FROM metrics WHERE run_id = {r:String}",
                                parameters={"r": run.run_id}).result_rows[0]
    assert rows[0] == rows[1] == logged["points"]
    assert _job(stack, "verify")["differences"] == []


def test_admin_api_refuses_a_second_job_and_unknown_tables(stack: Stack) -> None:
    _sweep(stack, runs=2, steps=10)
    assert stack.api.post("/api/v1/admin/rebuild", json={"only": ["nope"]}).status_code == 400
    first = stack.api.post("/api/v1/admin/verify")
    assert first.status_code == 202
    second = stack.api.post("/api/v1/admin/rebuild")
    if first.json()["state"] == "running" and _finished(stack, "/api/v1/admin/verify") is None:
        assert second.status_code == 409 and second.json()["error_code"] == "RESOURCE_CONFLICT"
    wait_for(lambda: _finished(stack, "/api/v1/admin/verify"), 120, what="verify")
    wait_for(lambda: _finished(stack, "/api/v1/admin/rebuild") if second.status_code == 202 else True, 120)


def _param_count_projection() -> Projection:
    columns = ("run_id", "params", "kafka_partition", "kafka_offset")

    def project(logged: LoggedEvent, block: Block) -> None:
        if isinstance(logged.event.payload, ParamsLogged):
            block.append(logged.event.run_id, len(logged.event.payload.params), logged.partition, logged.offset)

    return Projection("param_counts", columns, project)


def test_a_projection_added_in_code_is_filled_from_history(stack: Stack) -> None:
    ids = _sweep(stack, runs=3, steps=5)
    client = _client(stack)
    client.command("CREATE TABLE param_counts (run_id String, params UInt32, kafka_partition UInt32, "
                   "kafka_offset UInt64) ENGINE = MergeTree ORDER BY (run_id, kafka_partition, kafka_offset)")
    new = _param_count_projection()
    projector = stack.api.app.state.runstream.projector.projector  # type: ignore[attr-defined]
    job = MaintenanceJob("rebuild", stack.settings.store, client, only=["param_counts"], live=projector,
                         projections=[new])
    status = job.run()
    assert status.state == "done", status.error
    assert status.counts_before == {"param_counts": 0}
    counts = dict(client.query("SELECT run_id, sum(params) FROM param_counts GROUP BY run_id").result_rows)
    assert {r: counts[r] for r in ids} == dict.fromkeys(ids, 2)  # lr at start, batch later
    expected = dict(client.query("SELECT run_id, uniqExact(key) FROM params GROUP BY run_id").result_rows)
    assert counts == expected  # every run of the module's history, not only this test's
    verify = MaintenanceJob("verify", stack.settings.store, client, only=["param_counts"], live=projector,
                            projections=[new]).run()
    assert verify.state == "done" and verify.differences == []


def test_a_projector_it_cannot_pause_makes_it_refuse(stack: Stack) -> None:
    _sweep(stack, runs=1, steps=5)
    store = stack.settings.store
    other = ProjectorThread(store, connect(store.clickhouse_url, store.clickhouse_database))
    other.start()  # a second member of the consumer group, in a "process" the job cannot pause
    try:
        wait_for(lambda: other.projector.stats.assigned, 60, what="the second projector to get partitions")
        status = _job(stack, "rebuild")
        assert status["state"] == "failed"
        assert "member(s)" in status["error"] and "stop the other projectors" in status["error"]
        assert _client(stack).query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                                    "AND name LIKE '%\\_\\_rebuild'").result_rows[0][0] == 0
    finally:
        other.stop()
    wait_for(lambda: _job(stack, "verify")["state"] == "done", 120, 1, what="verify once the group is ours again")


def test_leftovers_of_an_interrupted_rebuild_are_replaced(stack: Stack) -> None:
    _sweep(stack, runs=1, steps=5)
    client = _client(stack)
    client.command("CREATE TABLE IF NOT EXISTS metric_chunks__rebuild AS metric_chunks")
    client.command("INSERT INTO metric_chunks__rebuild SELECT * FROM metric_chunks LIMIT 3")  # a crash's half-done work
    status = _job(stack, "rebuild", only=["metric_chunks"])
    assert status["state"] == "done"
    assert status["counts_after"]["metric_chunks"] == status["counts_before"]["metric_chunks"]
    assert _job(stack, "verify")["differences"] == []


def test_a_log_that_lost_its_history_cannot_be_replayed(kafka_bootstrap: str, clickhouse_dsn: str) -> None:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "truncated")
    with TestClient(build_app(settings)) as api:
        stack = Stack(settings, api)
        _sweep(stack, runs=2, steps=5)
        probe = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "probe"})
        used = [p for p in range(3) if probe.get_watermark_offsets(TopicPartition(settings.store.topic, p), 30)[1] > 1]
        probe.close()
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        futures = admin.delete_records([TopicPartition(settings.store.topic, p, 1) for p in used])
        for future in futures.values():
            future.result(30)
        status = _job(stack, "verify")
        assert status["state"] == "failed" and "history before it was deleted" in status["error"]


def test_a_derived_table_alone_is_recomputed_from_its_live_source(stack: Stack) -> None:
    ids = _sweep(stack, runs=2, steps=30)
    before = stack.api.get(f"/api/v1/runs/{ids[0]}").json()["metrics"]
    _client(stack).command("TRUNCATE TABLE run_metric_summary")  # a lost summary: the points are still there
    assert stack.api.get(f"/api/v1/runs/{ids[0]}").json()["metrics"] == {}
    status = _job(stack, "rebuild", only=["run_metric_summary"])
    assert status["state"] == "done" and status["tables"] == ["run_metric_summary"], status
    assert status["events"] == 0, "nothing is replayed from Kafka for a derived table"
    assert stack.api.get(f"/api/v1/runs/{ids[0]}").json()["metrics"] == before
    assert _job(stack, "verify")["differences"] == []


def test_checksums_of_streamed_blocks_add_up_to_the_checksum_of_their_rows(stack: Stack) -> None:
    """What verify's streamed tables rely on: per-run sums of inserted blocks, summed again, equal the checksum
    of the same rows stored (UInt64 sums wrap alike), a retried block counts once, and a doubled, missing or
    swapped row shows."""
    client = _client(stack)
    client.command("CREATE TABLE sums_m (run_id String, step Int64, value Float64) ENGINE = MergeTree ORDER BY step")
    columns = [("run_id", "String"), ("step", "Int64"), ("value", "Float64")]
    for sql in streamed_sql("sums_m", "sums_m__verify", columns):
        client.command(sql)
    names = ["run_id", "step", "value"]
    rows = [["a", step, step / 3] for step in range(1000)] + [["b", 0, 1.0], ["b", 1, 2.0]]
    client.insert("sums_m", rows, column_names=names)
    for i, block in enumerate((rows[:400], rows[400:999], rows[999:], rows[999:])):  # the last one a retry
        client.insert("sums_m__verify", block, column_names=names, settings={
            "insert_deduplication_token": f"t{min(i, 2)}", "deduplicate_blocks_in_dependent_materialized_views": 1})
    assert client.query("SELECT count() FROM sums_m__verify").result_rows == [(0,)]  # nothing stored

    def differences() -> list[Difference]:
        sums: tuple[dict[str, Checksum], dict[str, Checksum]] = ({}, {})
        for side, run, n, h, t in client.query(compare_sql(checksum_sql("sums_m", columns, final=False),
                                                           sums_sql("sums_m__verify"))).result_rows:
            sums[side][run] = (n, h, t)
        return compare("sums_m", *sums)

    assert differences() == []
    client.command("ALTER TABLE sums_m UPDATE value = 3 - value WHERE run_id = 'b' SETTINGS mutations_sync = 1")
    assert differences() == [Difference("sums_m", "b", 2, 2)]  # the two values swapped between rows
    client.command("ALTER TABLE sums_m UPDATE value = 3 - value WHERE run_id = 'b' SETTINGS mutations_sync = 1")
    client.insert("sums_m", [["a", 7, 7 / 3]], column_names=names)
    assert differences() == [Difference("sums_m", "a", 1001, 1000)]  # a doubled row
    client.command("ALTER TABLE sums_m DELETE WHERE run_id = 'a' AND step IN (7, 8) SETTINGS mutations_sync = 1")
    assert differences() == [Difference("sums_m", "a", 998, 1000)]  # missing rows
    for table in ("sums_m__verify__sums_mv", "sums_m__verify__sums", "sums_m__verify", "sums_m"):
        client.command(f"DROP TABLE {table} SYNC")


def test_verify_streaming_every_table_finds_swapped_doubled_and_missing_rows(stack: Stack) -> None:
    ids = _sweep(stack, runs=3, steps=20)
    client = _client(stack)
    projector = stack.api.app.state.runstream.projector.projector  # type: ignore[attr-defined]
    store = stack.settings.store

    def verify() -> list[Difference]:
        job = MaintenanceJob("verify", store, client, live=projector, stream_rows=0)
        status = job.run()
        assert status.state == "done", status.error
        assert "metric_chunks" in job.streamed and "params" in job.streamed and "events" not in job.streamed
        assert client.query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                            "AND name LIKE '%\\_\\_verify%'").result_rows[0][0] == 0  # views and sums dropped
        return [Difference(d["table"], d["run_id"], d["live_rows"], d["replayed_rows"])  # type: ignore[arg-type]
                for d in status.differences]

    assert verify() == []
    client.command("ALTER TABLE metric_chunks UPDATE value = arrayMap((v, s) -> multiIf(s = 1, 1.0 / 3, "
                   "s = 2, 1.0 / 2, v), value, step) WHERE run_id = {r:String} AND key = 'loss' "
                   "AND hasAny(step, [1, 2]) SETTINGS mutations_sync = 1", parameters={"r": ids[0]})
    client.command("ALTER TABLE metric_chunks UPDATE step = arrayFilter(s -> s != 3, step), "
                   "ts = arrayFilter((t, s) -> s != 3, ts, step), value = arrayFilter((v, s) -> s != 3, value, step), "
                   "point_index = arrayFilter((i, s) -> s != 3, point_index, step) WHERE run_id = {r:String} "
                   "AND has(step, 3) AND key = 'loss' SETTINGS mutations_sync = 1", parameters={"r": ids[2]})
    client.command("ALTER TABLE params UPDATE value = 'tampered' WHERE run_id = {r:String} AND key = 'lr' "
                   "SETTINGS mutations_sync = 1", parameters={"r": ids[0]})
    # metric_chunks is a ReplacingMergeTree: a merge would fold the doubled row into one (a loaded machine merged
    # it before verify read it), so merges wait until verify has seen it; mutations ran before, as they need merges
    client.command("SYSTEM STOP MERGES metric_chunks")
    try:
        client.command("INSERT INTO metric_chunks SELECT experiment_id, run_id, key, 4, kafka_partition, kafka_offset, "
                       "arrayFilter(s -> s = 4, step), arrayFilter((t, s) -> s = 4, ts, step), "
                       "arrayFilter((v, s) -> s = 4, value, step), arrayFilter((i, s) -> s = 4, point_index, step) "
                       "FROM metric_chunks WHERE run_id = {r:String} AND key = 'acc' AND has(step, 4)",
                       parameters={"r": ids[1]}, settings={"insert_deduplicate": 0})  # a chunk of that point alone
        found = verify()
    finally:
        client.command("SYSTEM START MERGES metric_chunks")
    assert len(found) == 4 and set(found) == {  # verify sums metric_chunks' points (pointsums): counts are points
        Difference("metric_chunks", ids[0], 40, 40),  # loss at steps 1 and 2 swapped (1/(step+1) before)
        Difference("metric_chunks", ids[1], 41, 40),  # acc at step 4 doubled
        Difference("metric_chunks", ids[2], 39, 40),  # loss at step 3 missing
        Difference("params", ids[0], 2, 2),
    }

    status = _job(stack, "rebuild", only=["params", "metrics"])
    assert status["state"] == "done"
    assert verify() == []

    for sql in streamed_sql("params", "params__verify", [("run_id", "String")]):  # a crashed verify's leftovers
        client.command(sql)
    assert _job(stack, "verify")["differences"] == []  # the tables are small: nothing streamed this time
    assert client.query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                        "AND name LIKE '%\\_\\_verify%'").result_rows[0][0] == 0


def test_verify_reports_what_the_replay_wrote_into_a_table_empty_live(stack: Stack) -> None:
    """Verify skips the checksums of tables empty on both sides (one count for all): a table empty live whose
    replay has rows is not one of them."""
    ids = _sweep(stack, runs=2, steps=5)
    client = _client(stack)
    client.command("TRUNCATE TABLE artifacts")  # every run logged one: the replay writes them all again
    status = _job(stack, "verify")
    assert status["state"] == "done", status
    assert {d["table"] for d in status["differences"]} == {"artifacts"}, status["differences"]
    found = {d["run_id"]: d for d in status["differences"]}
    assert set(ids) <= set(found)  # (and the runs of earlier tests in this module)
    assert all(d["live_rows"] == 0 and d["replayed_rows"] >= 1 for d in found.values())
    assert _job(stack, "rebuild", only=["artifacts"])["state"] == "done"
    assert _job(stack, "verify")["differences"] == []
