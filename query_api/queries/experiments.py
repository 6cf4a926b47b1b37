"""Experiments and their run counts."""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

from query_api.queries.fold import CURRENT
from query_api.timefmt import iso_from_micros

LIST = f"""
SELECT e.experiment_id, e.name, toUnixTimestamp64Micro(e.created), r.runs,
       if(r.runs IS NULL, NULL, toUnixTimestamp64Micro(r.last))
FROM (SELECT experiment_id, name, created_time AS created FROM experiments_current WHERE deleted = 0) AS e
LEFT JOIN (
    SELECT experiment_id, countIf(deleted = 0) AS runs, max(updated_time) AS last
    FROM {CURRENT} GROUP BY experiment_id
) AS r ON r.experiment_id = e.experiment_id
ORDER BY e.name
SETTINGS join_use_nulls = 1
"""

IDS_BY_NAME = """
SELECT name, experiment_id FROM experiments_current WHERE name IN {names:Array(String)} AND deleted = 0
"""

KNOWN_IDS = "SELECT DISTINCT experiment_id FROM experiments WHERE experiment_id IN {ids:Array(String)}"


def list_experiments(client: Client) -> list[dict[str, Any]]:
    return [
        {"experiment_id": eid, "name": name, "created_time": iso_from_micros(created),
         "run_count": int(runs or 0), "last_activity": iso_from_micros(last)}
        for eid, name, created, runs, last in client.query(LIST).result_rows
    ]


def ids_by_name(client: Client, names: list[str]) -> dict[str, str]:
    return {name: eid for name, eid in client.query(IDS_BY_NAME, parameters={"names": names}).result_rows}


def known_ids(client: Client, ids: list[str]) -> set[str]:
    return {row[0] for row in client.query(KNOWN_IDS, parameters={"ids": ids}).result_rows}
