"""The only part of the projector that talks to ClickHouse."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from consumers.derived import Derived
from consumers.errors import SinkError
from consumers.projections import Block

log = logging.getLogger("runstream.projector")

INSERT_SETTINGS = {
    "async_insert": 0,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


class ClickHouseSink:
    """Inserts one block per table and partition batch, idempotently, with bounded retries."""

    def __init__(self, client: Client, *, retries: int = 5, max_backoff_s: float = 10.0) -> None:
        self._client = client
        self._retries = retries
        self._max_backoff_s = max_backoff_s

    def positions(self, table: str, partitions: list[int]) -> dict[int, int]:
        """The highest Kafka offset each partition has in `table` (table is a projection name from code)."""
        result = self._client.query(
            f"SELECT kafka_partition, max(kafka_offset) FROM `{table}` "
            "WHERE kafka_partition IN {partitions:Array(UInt32)} GROUP BY kafka_partition",
            parameters={"partitions": partitions},
        )
        return {int(p): int(o) for p, o in result.result_rows}

    def seen_event_ids(self, partition: int, run_ids: list[str], event_ids: list[str], before: int, *,
                       table: str = "events") -> set[str]:
        """Which of these event ids the events table already holds from earlier offsets of the partition."""
        rows = self._client.query(
            f"SELECT DISTINCT toString(event_id) FROM `{table}` WHERE run_id IN {{runs:Array(String)}} "
            "AND event_id IN {ids:Array(UUID)} AND kafka_partition = {p:UInt32} AND kafka_offset < {before:UInt64} "
            "AND event_type NOT IN ('DeadLetter', 'Duplicate')",
            parameters={"runs": run_ids, "ids": event_ids, "p": partition, "before": before},
        ).result_rows
        return {row[0] for row in rows}

    def derive(self, derived: Derived, partition: int, after: int, upto: int, *, target: str | None = None,
               source: str | None = None) -> None:
        """Fill a derived table for offsets (after, upto] of a partition. A retry first asks ClickHouse how far
        the table got, so an INSERT that landed but whose answer was lost is never applied twice."""
        bind = {"partition": partition, "after": after, "upto": upto}
        target = target or derived.table
        sql = derived.sql(target, source)
        try:
            for attempt in self._retrying():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        bind["after"] = self.positions(target, [partition]).get(partition, -1)
                        if bind["after"] >= upto:
                            return
                    self._client.command(sql, parameters=bind, settings=INSERT_SETTINGS)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise SinkError(f"deriving {target} failed {self._retries + 1} times: {cause}") from cause

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(ClickHouseError),
            stop=stop_after_attempt(self._retries + 1),
            wait=wait_exponential(multiplier=0.2, max=self._max_backoff_s),
            reraise=False,
        )

    def insert(self, block: Block, *, token: str) -> None:
        """Insert the block; a retry with the same token is deduplicated by ClickHouse."""
        settings = {**INSERT_SETTINGS, "insert_deduplication_token": token}
        try:
            for attempt in self._retrying():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        log.warning("retrying insert into %s (attempt %d)", block.table,
                                    attempt.retry_state.attempt_number)
                    self._client.insert(block.table, block.data, column_names=block.columns,
                                        column_oriented=True, settings=settings)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise SinkError(f"insert into {block.table} failed {self._retries + 1} times: {cause}") from cause
