"""Alerts as a consumer of the log: rules through the API, the worker in a process of its own, a webhook receiver on
the loopback. Each rule fires once per run; a worker SIGKILLed between recording and delivering delivers after a
restart, under the same idempotency key; rule changes are audited; rebuild and verify cover the alert tables."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration
EXPERIMENT = "alerts-it"


class Receiver:
    """A webhook on 127.0.0.1 that records every request; the first `fail_first` requests get a 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append((self.headers["Idempotency-Key"], body))
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self) -> list[str]:
        return [key for key, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """`python -m consumers.alerts` in its own process, killable."""

    def __init__(self, stack: Stack, **env: str) -> None:
        settings = stack.settings.store
        self.env = {**os.environ, "RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                    "RUNSTREAM_TOPIC": settings.topic,
                    "RUNSTREAM_ALERTS_CONSUMER_GROUP": f"{settings.consumer_group}-alerts",
                    "RUNSTREAM_ALERTS_STALL_CHECK_S": "0.3", "RUNSTREAM_ALERTS_RETRY_S": "1", **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "consumers.alerts"], env=self.env)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def experiment(stack: Stack) -> str:
    tracker = stack.tracker()
    with tracker.start_run(EXPERIMENT, "warm-up") as run:
        run.log_metrics({"acc": 0.1, "loss": 1.0}, step=0)
    tracker.close()
    stack.wait_projected()
    return str(run.experiment_id)


def rule(stack: Stack, **spec: Any) -> str:
    response = stack.api.post("/api/v1/alerts/rules", json=spec)
    assert response.status_code == 200, response.text
    return str(response.json()["rule_id"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_each_rule_fires_once_per_run(stack: Stack, experiment: str, receiver: Receiver) -> None:
    url = receiver.url
    rules = {
        "threshold": rule(stack, name="loss high", condition="threshold", metric_key="loss", op=">", threshold=5,
                          webhook_url=url, experiment_id=experiment),
        "nan": rule(stack, name="loss nan", condition="nan", metric_key="loss", webhook_url=url),
        "run_failed": rule(stack, name="failed", condition="run_failed", webhook_url=url, experiment_id=experiment),
        "stalled": rule(stack, name="silent", condition="stalled", minutes=0.03, webhook_url=url,
                        experiment_id=experiment),
        "new_best": rule(stack, name="best acc", condition="new_best", metric_key="acc", op="max", webhook_url=url,
                         experiment_id=experiment),
    }
    worker = Worker(stack)
    try:
        time.sleep(1.0)  # rules apply to events logged after them
        tracker = stack.tracker()
        with tracker.start_run(EXPERIMENT, "a") as a:
            for step, loss in enumerate([1.0, 6.0, 7.0, math.nan, math.inf, 2.0]):  # crosses twice, two non-finite
                a.log_metrics({"loss": loss, "acc": 0.5}, step=step)
        with pytest.raises(RuntimeError), tracker.start_run(EXPERIMENT, "b") as b:
            b.log_metrics({"loss": 0.5, "acc": 0.9}, step=0)
            b.log_metrics({"loss": 0.4, "acc": 0.95}, step=1)  # a better best again: still one firing for b
            raise RuntimeError("diverged")
        d = tracker.start_run(EXPERIMENT, "d")
        d.log_metrics({"loss": 0.3}, step=0)
        d.end("KILLED")
        c = tracker.start_run(EXPERIMENT, "c")  # stays RUNNING and silent
        c.log_metrics({"loss": 0.2}, step=0)
        tracker.flush()
        expected = {("threshold", a.run_id), ("nan", a.run_id), ("run_failed", b.run_id), ("run_failed", d.run_id),
                    ("stalled", c.run_id), ("new_best", a.run_id), ("new_best", b.run_id)}
        by_rule = {v: k for k, v in rules.items()}
        got = lambda: {(by_rule[body["rule_id"]], body["run_id"]) for _, body in receiver.requests}  # noqa: E731
        wait_for(lambda: got() >= expected, 60, what=f"firings {expected}")
        time.sleep(3)  # anything more would have come by now (stall checks run every 0.3 s)
        c.end()
        tracker.close()
        assert got() == expected
        assert len(receiver.requests) == len(expected) == len(set(receiver.keys())), receiver.requests
        for key, body in receiver.requests:
            assert key == body["firing_id"] and body["text"].startswith("[runstream] ")
            assert set(body["log_position"]) == {"partition", "offset"}
        values = {(body["condition"], body["run_id"]): body["value"] for _, body in receiver.requests}
        assert values[("threshold", a.run_id)] == 6.0 and values[("nan", a.run_id)] == "nan"
        assert values[("new_best", b.run_id)] == 0.9
    finally:
        worker.stop()
    stack.wait_projected()
    firings = stack.api.get("/api/v1/alerts/firings").json()["firings"]
    assert {(f["rule_id"], f["run_id"]) for f in firings} == {(rules[k], r) for k, r in expected}
    assert all(f["delivery"] and f["delivery"]["status"] == 200 for f in firings)
    assert len(firings) == len(expected)


def test_rule_changes_are_audited(stack: Stack, experiment: str) -> None:
    rule_id = rule(stack, name="v1", condition="threshold", metric_key="loss", op=">", threshold=1,
                   webhook_url="http://127.0.0.1:9/none", experiment_id=experiment)
    changed = stack.api.put(f"/api/v1/alerts/rules/{rule_id}", json={
        "name": "v2", "condition": "threshold", "metric_key": "loss", "op": "<", "threshold": 0.1,
        "webhook_url": "http://127.0.0.1:9/none"})
    assert changed.status_code == 200, changed.text
    current = next(r for r in stack.api.get("/api/v1/alerts/rules").json()["rules"] if r["rule_id"] == rule_id)
    assert (current["name"], current["op"], current["experiment_id"]) == ("v2", "<", None)
    assert stack.api.delete(f"/api/v1/alerts/rules/{rule_id}").status_code == 200
    assert rule_id not in {r["rule_id"] for r in stack.api.get("/api/v1/alerts/rules").json()["rules"]}
    history = stack.api.get(f"/api/v1/alerts/rules/{rule_id}/history").json()["events"]
    assert [e["type"] for e in history] == ["AlertRuleCreated", "AlertRuleChanged", "AlertRuleDeleted"]
    assert history[1]["payload"]["name"] == "v2" and all(e["offset"] >= 0 for e in history)
    assert stack.api.delete(f"/api/v1/alerts/rules/{rule_id}").status_code == 404
    for bad in ({"name": "x", "condition": "threshold", "webhook_url": "http://h/"},  # no metric, op, threshold
                {"name": "x", "condition": "stalled", "webhook_url": "ftp://h/", "minutes": 1},
                {"name": "x", "condition": "sometimes", "webhook_url": "http://h/"}):
        response = stack.api.post("/api/v1/alerts/rules", json=bad)
        assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    unknown = stack.api.post("/api/v1/alerts/rules", json={"name": "x", "condition": "run_failed",
                                                           "webhook_url": "http://h/", "experiment_id": "424242"})
    assert unknown.status_code == 404


def test_a_worker_killed_between_recording_and_delivering_delivers_once(stack: Stack, experiment: str) -> None:
    receiver = Receiver(fail_first=1)  # the first try is refused: the retry carries the same key
    try:
        rule_id = rule(stack, name="x high", condition="threshold", metric_key="x", op=">", threshold=1,
                       webhook_url=receiver.url, experiment_id=experiment)
        worker = Worker(stack, RUNSTREAM_ALERTS_DELIVERY_DELAY_S="60")
        try:
            time.sleep(1.0)
            tracker = stack.tracker()
            with tracker.start_run(EXPERIMENT, "kill-me") as run:
                run.log_metrics({"x": 2.0}, step=0)
            tracker.close()

            def recorded() -> list[dict[str, Any]]:
                stack.wait_projected()
                return [f for f in stack.api.get(f"/api/v1/alerts/firings?rule_id={rule_id}").json()["firings"]]

            firing = wait_for(recorded, 60, what="the AlertFired event")[0]
            assert firing["delivery"] is None and receiver.requests == []
            worker.kill()  # recorded in the log, not delivered
        finally:
            worker.stop()
        worker = Worker(stack)
        try:
            wait_for(lambda: len(receiver.requests) >= 2, 60, what="the delivery after the restart")
            time.sleep(2)
        finally:
            worker.stop()
        assert receiver.keys() == [firing["firing_id"]] * 2  # one firing: a refused try, then its retry
        assert receiver.requests[0][1] == receiver.requests[1][1]
        stack.wait_projected()
        after = stack.api.get(f"/api/v1/alerts/firings?rule_id={rule_id}").json()["firings"]
        assert len(after) == 1 and after[0]["delivery"]["attempts"] == 2
        fired = stack.api.post("/api/v1/sql", json={"query": "SELECT count() FROM alert_firings WHERE firing_id = "
                                                             f"'{firing['firing_id']}'"}).json()["rows"]
        assert fired == [[1]], "recorded once: the restarted worker found it in the log"
    finally:
        receiver.close()


def test_rebuild_and_verify_cover_the_alert_tables(stack: Stack, experiment: str) -> None:
    tables = ["alert_rules", "alert_firings", "alert_deliveries"]
    before = {t: stack.api.post("/api/v1/sql", json={"query": f"SELECT count() FROM {t} FINAL"}).json()["rows"]
              for t in tables}
    assert all(rows[0][0] > 0 for rows in before.values()), before
    for kind in ("rebuild", "verify"):
        started = stack.api.post(f"/api/v1/admin/{kind}", json={"only": tables})
        assert started.status_code == 202, started.text

        def done(kind: str = kind) -> dict[str, Any] | None:
            status: dict[str, Any] = stack.api.get(f"/api/v1/admin/{kind}").json()
            return status if status["state"] != "running" else None

        status = wait_for(done, 120, 0.2, f"{kind} to finish")
        assert status["state"] == "done" and set(tables) <= set(status["tables"]), status
        if kind == "verify":
            assert status["differences"] == []
    after = {t: stack.api.post("/api/v1/sql", json={"query": f"SELECT count() FROM {t} FINAL"}).json()["rows"]
             for t in tables}
    assert after == before
