-- The MLflow model registry (schema v5): one row per registry event. Registry events are keyed
-- 'mlflow-registry', so they share one partition and kafka_offset orders the whole registry; the read side
-- folds these rows (query_api/queries/registry.py), as of any instant when asked.
-- version = 0 for events of the registered model itself; NULL columns are "not set by this event".

CREATE TABLE IF NOT EXISTS registry_changes (
    registered_model_id String,
    version UInt32,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    user String,
    name String,
    new_name Nullable(String),
    description Nullable(String),
    source Nullable(String),
    run_id Nullable(String),
    model_id Nullable(String),
    run_link Nullable(String),
    storage_location Nullable(String),
    stage Nullable(String),
    alias Nullable(String),
    tag_key Nullable(String),
    tags Map(String, String),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (registered_model_id, version, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000
