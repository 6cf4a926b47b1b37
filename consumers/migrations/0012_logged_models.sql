-- MLflow 3 logged models (schema v5): one row per logged-model event, their params and tags, the run metric
-- points linked to a model (and a dataset), and the models a run produced (runs/outputs).
-- A logged model's events are keyed by its experiment, so the offset orders them.

CREATE TABLE IF NOT EXISTS logged_models (
    experiment_id String,
    model_id String,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    user String,
    name Nullable(String),
    source_run_id Nullable(String),
    model_type Nullable(String),
    artifact_location Nullable(String),
    status LowCardinality(Nullable(String)),
    status_message Nullable(String),
    deleted Nullable(UInt8),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, model_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- kind is 'param' or 'tag'; deleted = 1 for a deleted tag.
CREATE TABLE IF NOT EXISTS logged_model_kv (
    experiment_id String,
    model_id String,
    kind LowCardinality(String),
    key String,
    value String,
    deleted UInt8,
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, model_id, kind, key, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS logged_model_metrics (
    experiment_id String,
    run_id String,
    model_id String,
    key LowCardinality(String),
    step Int64,
    ts DateTime64(3, 'UTC'),
    value Float64,
    dataset_name String,
    dataset_digest String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    point_index UInt32
) ENGINE = ReplacingMergeTree
ORDER BY (model_id, key, step, kafka_partition, kafka_offset, point_index)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS run_outputs (
    experiment_id String,
    run_id String,
    model_id String,
    step Int64,
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, model_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000
;

CREATE TABLE IF NOT EXISTS logged_model_artifacts (
    experiment_id String,
    model_id String,
    path String,
    uri String,
    size UInt64,
    digest String,
    media_type Nullable(String),
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, model_id, path, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000
