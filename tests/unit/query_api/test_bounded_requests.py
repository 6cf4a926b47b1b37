"""Every request bounded: filter size, page tokens, query limits as 4xx, one slow query never holding the others."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi.testclient import TestClient

from query_api import deps
from query_api.clientpool import ClientPool
from query_api.filters import SearchSyntaxError, parse_filter, parse_order_by
from query_api.mlflow import dialect
from query_api.mlflow.deps import get_artifacts, get_reader, get_writer
from query_api.paging import BadPageToken, PageToken, query_fingerprint
from runstream.settings import ServerSettings
from runstream.stack import build_app


class Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"nothing may be queried ({name}) for a request refused by validation")


@pytest.fixture
def api() -> TestClient:
    app = build_app(ServerSettings())
    app.dependency_overrides[deps.get_clickhouse] = Untouchable
    for dependency in (get_reader, get_writer, get_artifacts):
        app.dependency_overrides[dependency] = Untouchable
    return TestClient(app)  # the lifespan does not run: no services


def many_keys(n: int) -> str:
    return " and ".join(f"params.p{i} = 'x'" for i in range(n))


def test_a_filter_naming_too_many_distinct_keys_is_refused_before_any_query(api: TestClient) -> None:
    for path, body in (("/api/v1/runs/search", {"experiment_ids": ["1"], "filter": many_keys(300)}),
                       ("/api/2.0/mlflow/runs/search", {"experiment_ids": ["1"], "filter": many_keys(300)})):
        response = api.post(path, json=body)
        assert response.status_code == 400 and "distinct keys" in response.json()["message"], response.text
    assert parse_filter(many_keys(32)) is not None, "32 keys are fine"
    with pytest.raises(SearchSyntaxError, match="comparisons"):
        parse_filter(" and ".join(["params.p = 'x'"] * 257))
    with pytest.raises(SearchSyntaxError, match="clauses"):
        parse_order_by([f"params.p{i}" for i in range(17)])


@pytest.mark.parametrize("value", [42, 1.5, ["params.a = 'x'"], {"a": 1}, True])
def test_a_filter_that_is_not_a_string_is_a_400(api: TestClient, value: object) -> None:
    for path, body in (("/api/2.0/mlflow/runs/search", {"experiment_ids": ["1"], "filter": value}),
                       ("/api/2.0/mlflow/experiments/search", {"filter": value}),
                       ("/api/v1/runs/search", {"experiment_ids": ["1"], "filter": value}),
                       ("/api/2.0/mlflow/runs/search", {"experiment_ids": ["1"], "order_by": [value]})):
        response = api.post(path, json=body)
        assert response.status_code == 400, (path, value, response.text)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def forged(body: dict[str, Any], urlsafe: bool = True) -> str:
    raw = json.dumps(body).encode()
    return (base64.urlsafe_b64encode(raw).decode().rstrip("=") if urlsafe else base64.b64encode(raw).decode())


@pytest.mark.parametrize(("offset", "snapshot"), [(10**30, {}), (2**63, {}), (0, {"0": 10**30}), (0, {"-1": 5}),
                                                  (0, {str(2**40): 0}), (-1, {})])
def test_forged_page_tokens_with_out_of_range_numbers_are_refused(offset: int, snapshot: dict[str, int]) -> None:
    fingerprint = query_fingerprint({"q": 1})
    with pytest.raises(BadPageToken):
        PageToken.decode(forged({"o": offset, "s": snapshot, "q": fingerprint}), fingerprint)
    token = forged({"offset": offset, "snapshot": snapshot, "query": fingerprint}, urlsafe=False)
    with pytest.raises(BadPageToken, match="never writes"):
        dialect.decode_token(token, fingerprint)


class OverLimit:
    """A client whose every query goes over the server's time limit."""

    def query(self, *args: object, **kwargs: object) -> None:
        raise DatabaseError("Code: 159. DB::Exception: Timeout exceeded: elapsed 30001 ms. (TIMEOUT_EXCEEDED)",
                            code=159, name="TIMEOUT_EXCEEDED")


def test_a_query_over_the_servers_limits_is_a_400_not_a_500() -> None:
    app = build_app(ServerSettings())
    app.dependency_overrides[deps.get_clickhouse] = OverLimit
    response = TestClient(app).get("/api/v1/experiments/1/leaderboard?metric=loss")
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "QUERY_LIMIT_EXCEEDED"


class SlowClient:
    """Runs one query at a time, like a clickhouse-connect client over chdb."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def query(self, sql: str, **_: object) -> str:
        with self._lock:
            time.sleep(2.0 if sql == "slow" else 0.0)
            return sql

    def command(self, sql: str, **_: object) -> str:
        return self.query(sql)

    def close(self) -> None:
        pass


def test_one_slow_query_does_not_hold_the_others() -> None:
    pool = ClientPool(SlowClient, 2)  # type: ignore[arg-type]
    slow = threading.Thread(target=pool.query, args=("slow",))
    slow.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert pool.query("fast") == "fast" and pool.command("fast too") == "fast too"
    assert time.monotonic() - started < 1.0, "the fast queries ran beside the slow one"
    slow.join()
