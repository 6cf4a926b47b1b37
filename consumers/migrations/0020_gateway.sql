-- MLflow's AI gateway (schema v8): one row per secret or model-definition event. The events are keyed like the
-- registry's ('mlflow-registry'), so they share one partition and kafka_offset orders them; the read side
-- folds these rows (query_api/queries/gateway.py, query_api/mlflow/gateway_fold.py).
-- A secret's value is here only encrypted (encrypted_value, under a data key; wrapped_dek, that key under the
-- passphrase's key) and masked. NULL columns and *_set = 0 are "not changed by this event".

CREATE TABLE IF NOT EXISTS gateway_changes (
    entity_kind LowCardinality(String),
    entity_id String,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    user String,
    name Nullable(String),
    provider Nullable(String),
    secret_id Nullable(String),
    model_name Nullable(String),
    actor Nullable(String),
    value_set UInt8,
    masked_values Map(String, String),
    encrypted_value Nullable(String),
    wrapped_dek Nullable(String),
    kek_version Nullable(UInt32),
    auth_config_set UInt8,
    auth_config Map(String, String),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (entity_kind, entity_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000
