-- Alerts (schema v6): rules are events (created, changed, deleted), and so is what the alert worker did with
-- them (a firing, its delivery). These tables are projections like the others: rebuild and verify cover them.

-- One row per rule event; the rule now is the latest row by offset (one rule's events share a partition).
CREATE TABLE IF NOT EXISTS alert_rules (
    rule_id String,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    name String,
    condition LowCardinality(String),
    webhook_url String,
    experiment_id Nullable(String),
    metric_key Nullable(String),
    op Nullable(String),
    threshold Nullable(Float64),
    minutes Nullable(Float64),
    deleted UInt8,
    user String,
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (rule_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per AlertFired. firing_id is derived from (rule, run, condition): a worker that records a firing
-- again after a crash writes the same firing_id, which readers count once.
CREATE TABLE IF NOT EXISTS alert_firings (
    firing_id String,
    rule_id String,
    run_id String,
    experiment_id String,
    condition LowCardinality(String),
    text String,
    value Nullable(Float64),
    metric_key Nullable(String),
    step Nullable(Int64),
    source_partition UInt32,
    source_offset UInt64,
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (firing_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per AlertDelivered: the webhook answered 2xx.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    firing_id String,
    rule_id String,
    run_id String,
    status UInt16,
    attempts UInt32,
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (firing_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;
