"""Alert rules as they stand, their audit trail, and firings with their deliveries."""

from __future__ import annotations

import json
from typing import Any

from clickhouse_connect.driver.client import Client

from query_api.timefmt import iso_from_micros

RULE_FIELDS = ("name", "condition", "webhook_url", "experiment_id", "metric_key", "op", "threshold", "minutes")

# The latest event of each rule wins (argMax over a tuple keeps NULLs, which a plain argMax would skip).
RULES = """
SELECT rule_id, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, toUnixTimestamp64Micro(created),
       toUnixTimestamp64Micro(updated)
FROM (
    SELECT rule_id,
           argMax((name, condition, webhook_url, experiment_id, metric_key, op, threshold, minutes, deleted),
                  (event_time, kafka_offset)) AS r,
           min(event_time) AS created, max(event_time) AS updated
    FROM alert_rules GROUP BY rule_id
)
WHERE r.9 = 0 AND (rule_id = {rule_id:String} OR {rule_id:String} = '')
ORDER BY created, rule_id
"""

HISTORY = """
SELECT event_type, toUnixTimestamp64Micro(event_time), kafka_partition, kafka_offset, producer_user, producer_host,
       payload
FROM events
WHERE run_id = '' AND event_type IN ('AlertRuleCreated', 'AlertRuleChanged', 'AlertRuleDeleted')
  AND JSONExtractString(payload, 'rule_id') = {rule_id:String}
ORDER BY event_time, kafka_partition, kafka_offset
LIMIT 1 BY event_id
"""

FIRINGS = """
SELECT f.firing_id, f.f_rule, f.f_run, f.f_experiment, f.f_condition, f.f_text, f.f_value, f.f_key, f.f_step,
       f.f_partition, f.f_offset, toUnixTimestamp64Micro(f.fired), d.status, d.attempts,
       if(d.firing_id = '', NULL, toUnixTimestamp64Micro(d.delivered))
FROM (
    SELECT firing_id, any(rule_id) AS f_rule, any(run_id) AS f_run, any(experiment_id) AS f_experiment,
           any(condition) AS f_condition, any(text) AS f_text, any(value) AS f_value, any(metric_key) AS f_key,
           any(step) AS f_step, any(source_partition) AS f_partition, any(source_offset) AS f_offset,
           min(event_time) AS fired
    FROM alert_firings
    WHERE ({rule_id:String} = '' OR rule_id = {rule_id:String}) AND ({run_id:String} = '' OR run_id = {run_id:String})
    GROUP BY firing_id
) AS f
LEFT JOIN (
    SELECT firing_id, any(status) AS status, any(attempts) AS attempts, min(event_time) AS delivered
    FROM alert_deliveries GROUP BY firing_id
) AS d ON d.firing_id = f.firing_id
ORDER BY f.fired DESC, f.firing_id
LIMIT {limit:UInt32}
"""


def rules(client: Client, rule_id: str = "") -> list[dict[str, Any]]:
    """Live rules (all, or the one asked for), oldest first."""
    out = []
    for rid, *values, created, updated in client.query(RULES, parameters={"rule_id": rule_id}).result_rows:
        out.append({"rule_id": rid, **dict(zip(RULE_FIELDS, values, strict=True)),
                    "created_time": iso_from_micros(created), "updated_time": iso_from_micros(updated)})
    return out


def history(client: Client, rule_id: str) -> list[dict[str, Any]]:
    """The rule's events in time order: what changed, who, when, and where in the log."""
    return [
        {"type": kind, "event_time": iso_from_micros(at), "partition": part, "offset": off, "user": user,
         "host": host, "payload": json.loads(payload)}
        for kind, at, part, off, user, host, payload in client.query(
            HISTORY, parameters={"rule_id": rule_id}).result_rows
    ]


def firings(client: Client, *, rule_id: str = "", run_id: str = "", limit: int = 1000) -> list[dict[str, Any]]:
    """Firings, newest first, each counted once, with its delivery (null until the webhook took it)."""
    rows = client.query(FIRINGS, parameters={"rule_id": rule_id, "run_id": run_id, "limit": limit}).result_rows
    return [
        {"firing_id": fid, "rule_id": rid, "run_id": run, "experiment_id": exp, "condition": cond, "text": text,
         "value": value, "metric_key": key, "step": step, "log_position": {"partition": part, "offset": off},
         "fired_time": iso_from_micros(fired),
         "delivery": None if delivered is None else {"status": status, "attempts": attempts,
                                                     "delivered_time": iso_from_micros(delivered)}}
        for fid, rid, run, exp, cond, text, value, key, step, part, off, fired, status, attempts, delivered in rows
    ]
