-- Dataset inputs keep all their tags (schema v7), in the order the client sent them, as two parallel arrays;
-- rows from older events have none (their context column still holds the one tag they kept).
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS tag_keys Array(String) AFTER profile;
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS tag_values Array(String) AFTER tag_keys;

-- Logged models a run took as inputs (runs/log-inputs with models, schema v7), one row per model.
CREATE TABLE IF NOT EXISTS run_model_inputs (
    experiment_id String,
    run_id String,
    model_id String,
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, run_id, model_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000
