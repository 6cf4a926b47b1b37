-- The projections of runstream.events. Every row carries its Kafka coordinates; every table sets
-- non_replicated_deduplication_window so a retried insert with the same token is dropped.

CREATE TABLE IF NOT EXISTS events (
    event_id UUID,
    run_id String,
    experiment_id String,
    seq Int64,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    producer_host LowCardinality(String),
    producer_pid UInt32,
    producer_user LowCardinality(String),
    sdk_version LowCardinality(String),
    schema_fingerprint String,
    payload String,
    error String DEFAULT '',
    kafka_partition UInt32,
    kafka_offset UInt64,
    projected_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (run_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- The projector's position per partition, kept small so lag and read-your-writes are cheap to ask.
CREATE TABLE IF NOT EXISTS event_offsets (
    kafka_partition UInt32,
    kafka_offset SimpleAggregateFunction(max, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    dead_letters SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY kafka_partition
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_offsets_mv TO event_offsets AS
SELECT kafka_partition, max(kafka_offset) AS kafka_offset, count() AS events,
       countIf(event_type = 'DeadLetter') AS dead_letters
FROM events GROUP BY kafka_partition;

CREATE TABLE IF NOT EXISTS experiments (
    experiment_id String,
    name String,
    artifact_location Nullable(String),
    created_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per event that changes a run's attributes; NULL means "not changed by this event".
CREATE TABLE IF NOT EXISTS runs (
    experiment_id String,
    run_id String,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    seq Int64,
    name Nullable(String),
    user Nullable(String),
    parent_run_id Nullable(String),
    source Nullable(String),
    description Nullable(String),
    status LowCardinality(Nullable(String)),
    start_time Nullable(DateTime64(6, 'UTC')),
    end_time Nullable(DateTime64(6, 'UTC')),
    deleted Nullable(UInt8),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- The fold: the latest value of each attribute by (event_time, seq); aggregates skip NULLs.
CREATE VIEW IF NOT EXISTS runs_current AS
SELECT
    experiment_id,
    run_id,
    argMax(name, (event_time, seq)) AS name,
    argMax(user, (event_time, seq)) AS user,
    argMax(parent_run_id, (event_time, seq)) AS parent_run_id,
    argMax(source, (event_time, seq)) AS source,
    argMax(description, (event_time, seq)) AS description,
    argMax(status, (event_time, seq)) AS status,
    min(start_time) AS start_time,
    argMax(end_time, (event_time, seq)) AS end_time,
    ifNull(argMax(deleted, (event_time, seq)), 0) AS deleted,
    max(event_time) AS updated_time
FROM runs
GROUP BY experiment_id, run_id;

CREATE TABLE IF NOT EXISTS params (
    experiment_id String,
    run_id String,
    key String,
    value String,
    event_time DateTime64(6, 'UTC'),
    seq Int64,
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, key, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS tags (
    experiment_id String,
    run_id String,
    key String,
    value String,
    deleted UInt8,
    event_time DateTime64(6, 'UTC'),
    seq Int64,
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, key, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS artifacts (
    experiment_id String,
    run_id String,
    path String,
    uri String,
    size UInt64,
    digest String,
    media_type Nullable(String),
    event_time DateTime64(6, 'UTC'),
    seq Int64,
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, path, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS inputs (
    experiment_id String,
    run_id String,
    name String,
    digest String,
    source_type Nullable(String),
    source Nullable(String),
    context Nullable(String),
    event_time DateTime64(6, 'UTC'),
    seq Int64,
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, name, digest, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS metrics (
    experiment_id String,
    run_id String,
    key LowCardinality(String),
    step Int64 CODEC(Delta, ZSTD),
    ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD),
    value Float64 CODEC(Gorilla, ZSTD),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64 CODEC(Delta, ZSTD),
    point_index UInt32 CODEC(Delta, ZSTD)
) ENGINE = ReplacingMergeTree
PRIMARY KEY (experiment_id, key, run_id, step)
ORDER BY (experiment_id, key, run_id, step, kafka_partition, kafka_offset, point_index)
SETTINGS non_replicated_deduplication_window = 1000;

-- Per (experiment, key, run): min/max/avg ignore NaN points; point_count counts every point.
CREATE TABLE IF NOT EXISTS run_metric_summary (
    experiment_id String,
    key LowCardinality(String),
    run_id String,
    last_value AggregateFunction(argMax, Float64, Tuple(Int64, DateTime64(3, 'UTC'), UInt64, UInt32)),
    min_value SimpleAggregateFunction(min, Nullable(Float64)),
    max_value SimpleAggregateFunction(max, Nullable(Float64)),
    sum_value SimpleAggregateFunction(sum, Float64),
    value_count SimpleAggregateFunction(sum, UInt64),
    point_count SimpleAggregateFunction(sum, UInt64),
    last_step SimpleAggregateFunction(max, Int64),
    last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
) ENGINE = AggregatingMergeTree
ORDER BY (experiment_id, key, run_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS run_metric_summary_mv TO run_metric_summary AS
SELECT
    experiment_id,
    key,
    run_id,
    argMaxState(value, (step, ts, kafka_offset, point_index)) AS last_value,
    min(if(isNaN(value), NULL, value)) AS min_value,
    max(if(isNaN(value), NULL, value)) AS max_value,
    sumIf(value, NOT isNaN(value)) AS sum_value,
    countIf(NOT isNaN(value)) AS value_count,
    count() AS point_count,
    max(step) AS last_step,
    max(ts) AS last_ts
FROM metrics
GROUP BY experiment_id, key, run_id;
