"""consumers.arrow_rows: the small tables' rows sent as Arrow land exactly as clickhouse-connect's native insert
lands them (every table, embedded ClickHouse in a temporary directory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from clickhouse_connect.driver.client import Client

from consumers.arrow_rows import arrow_type, schema_of, to_arrow
from consumers.clickhouse import connect
from consumers.migrate import migrate
from consumers.sink import ClickHouseSink
from consumers.writer import BatchWriter
from schemas import (
    ExperimentCreated,
    ParamsLogged,
    Producer,
    RunEvent,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagsSet,
    encode,
)
from tests.unit.consumers.test_projection_payloads import SAMPLES

EDGE_PAYLOADS: list[Any] = [
    ExperimentCreated("", artifact_location="", tags={"": "", "ключ": "☃ значение"}),
    RunStarted("träning ☃ 🚀", "", parent_run_id=None, source="", description="line\nbreak\ttab 'quote' \"dq\""),
    ParamsLogged({"": "", "lr": "0.1", "名前": "値", "long": "x" * 5000}),
    TagsSet({"empty": "", "nul": "a\x00b"}),
    RunStatusChanged(RunStatus.FAILED, end_time=datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)),
    RunStatusChanged(RunStatus.FINISHED, end_time=datetime(1970, 1, 1, tzinfo=UTC)),
]


class Msg:
    """What the writer reads of a consumed Kafka message."""

    def __init__(self, value: bytes, key: bytes, partition: int, offset: int) -> None:
        self._value, self._key, self._partition, self._offset = value, key, partition, offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return self._key

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_700_000_000_123


class CountingClient:
    """A client that counts which tables got Arrow and which got native inserts."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.arrow: set[str] = set()
        self.native: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def insert(self, table: str, *args: Any, **kwargs: Any) -> Any:
        self.native.add(table)
        return self._client.insert(table, *args, **kwargs)

    def insert_arrow(self, table: str, *args: Any, **kwargs: Any) -> Any:
        self.arrow.add(table)
        return self._client.insert_arrow(table, *args, **kwargs)


def messages() -> dict[int, list[Msg]]:
    """Every payload type (and edge values: unicode, empty strings, NULLs, maps, microseconds) in two partitions,
    with a message that is no event (a dead letter) in each."""
    producer = Producer("hôst ☃", 4242, "", "0.1.0")
    out: dict[int, list[Msg]] = {0: [], 1: []}
    for i, payload in enumerate([*SAMPLES, *EDGE_PAYLOADS]):
        partition = i % 2
        run = uuid.UUID(int=partition + 1).hex
        at = datetime(2026, 12, 4, 16, 0, i % 60, 1000 * i + 7, tzinfo=UTC)
        event = RunEvent(str(uuid.UUID(int=10_000 + i)), run, "exp-1", i + 1, at, producer, payload)
        out[partition].append(Msg(encode(event), run.encode(), partition, len(out[partition])))
    for partition, msgs in out.items():
        msgs.append(Msg(b"\xc3\x01not avro", b"k\xff", partition, len(msgs)))
    return out


def table_rows(client: Client, table: str) -> list[str]:
    """Every row of a table as text (NULLs, NaN, maps, DateTime64 to the microsecond, UUIDs), sorted; columns
    ClickHouse fills with the insert's time are left out."""
    columns = [name for name, in client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "AND default_expression NOT ILIKE '%now%' ORDER BY position",
        parameters={"t": table}).result_rows]
    shown = ", ".join(f"toString(`{c}`)" for c in columns)
    rows = client.query(f"SELECT {shown} FROM `{table}`").result_rows
    return sorted(repr(row) for row in rows)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Client, Client, CountingClient]:
    dsn = f"chdb://{tmp_path_factory.mktemp('arrow-rows') / 'store'}"
    native, arrow = connect(dsn, "native_rows"), connect(dsn, "arrow_rows")
    migrate(native)
    migrate(arrow)
    counting = CountingClient(arrow)
    for sink in (ClickHouseSink(native, arrow_rows=False),
                 ClickHouseSink(counting, arrow_rows=True)):  # type: ignore[arg-type]
        writer = BatchWriter(sink, token_prefix="t")
        writer.load_positions([0, 1])
        writer.write_all(messages())  # type: ignore[arg-type]
    return native, arrow, counting


def test_every_table_lands_the_same_rows_from_arrow_as_from_native_inserts(
        stores: tuple[Client, Client, CountingClient]) -> None:
    native, arrow, counting = stores
    tables = [name for name, in native.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' "
        "ORDER BY name").result_rows]
    assert "events" in tables and "run_state" in tables
    filled = 0
    for table in tables:
        expected = table_rows(native, table)
        assert table_rows(arrow, table) == expected, table
        filled += bool(expected)
    assert filled >= 15  # the samples reach most tables: the comparison is not of empty tables


def test_the_small_tables_took_the_arrow_path(stores: tuple[Client, Client, CountingClient]) -> None:
    _, _, counting = stores
    for table in ("events", "event_offsets", "runs", "run_state", "params", "tags", "experiments",
                  "experiment_tags", "inputs", "artifacts", "registry_changes", "alert_rules"):
        assert table in counting.arrow, table
    assert "logged_model_metrics" in counting.native  # DateTime64(3): sent natively (see arrow_rows._SCALARS)


def test_arrow_types_of_clickhouse_types() -> None:
    utc_us = pa.timestamp("us", tz="UTC")
    assert arrow_type("LowCardinality(Nullable(String))") == pa.string()
    assert arrow_type("UUID") == pa.string()
    assert arrow_type("Nullable(DateTime64(6, 'UTC'))") == utc_us
    assert arrow_type("SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String)))") == \
        pa.struct([("1", utc_us), ("2", pa.int64()), ("3", pa.string())])
    assert arrow_type("SimpleAggregateFunction(maxMap, Map(String, String))") == pa.map_(pa.string(), pa.string())
    assert arrow_type("Array(String)") == pa.list_(pa.string())
    for unsupported in ("DateTime64(3, 'UTC')", "DateTime64(6)", "Tuple(a String, b Int64)", "Map(UInt8, String)",
                        "Decimal(10, 2)", "Enum8('a' = 1)", "Array(DateTime64(3, 'UTC'))"):
        assert arrow_type(unsupported) is None, unsupported
    assert schema_of(("a", "b"), ("String", "DateTime64(3, 'UTC')")) is None


def test_a_value_arrow_would_not_carry_exactly_sends_the_block_natively() -> None:
    schema = schema_of(("flag", "name"), ("UInt8", "String"))
    assert schema is not None
    assert to_arrow([[1, 0], ["a", "b"]], schema) is not None
    assert to_arrow([[True, 0], ["a", "b"]], schema) is None  # a bool is no UInt8 to pyarrow
    assert to_arrow([["1", 0], ["a", "b"]], schema) is None  # nor a str
