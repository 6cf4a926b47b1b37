-- MLflow's experiment lifecycle and run renames (schema v3): experiments can be renamed, deleted,
-- restored and tagged; a run can be renamed; dataset inputs carry MLflow's schema and profile.

-- One row per ExperimentRenamed / ExperimentDeleted / ExperimentRestored; NULL means "not changed by this
-- event". An experiment's events share a partition (keyed by experiment id), so the offset orders them.
CREATE TABLE IF NOT EXISTS experiment_changes (
    experiment_id String,
    event_type LowCardinality(String),
    event_time DateTime64(6, 'UTC'),
    name Nullable(String),
    deleted Nullable(UInt8),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- Experiment tags: from ExperimentCreated's tags, ExperimentTagsSet and ExperimentTagDeleted (deleted = 1).
CREATE TABLE IF NOT EXISTS experiment_tags (
    experiment_id String,
    key String,
    value String,
    deleted UInt8,
    event_time DateTime64(6, 'UTC'),
    event_id UUID,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, key, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000;

-- The experiment now: its first creation's name unless renamed since (a later ExperimentCreated, which every
-- SDK process announces, never renames or restores it), deleted by the latest delete or restore.
CREATE VIEW IF NOT EXISTS experiments_current AS
SELECT
    e.experiment_id AS experiment_id,
    coalesce(c.last_name, e.first_name) AS name,
    e.location AS artifact_location,
    e.created AS created_time,
    greatest(e.created, ifNull(c.changed_time, e.created)) AS last_update_time,
    ifNull(c.gone, 0) AS deleted
FROM (
    SELECT experiment_id, argMin(name, created_time) AS first_name,
           argMin(artifact_location, created_time) AS location, min(created_time) AS created
    FROM experiments GROUP BY experiment_id
) AS e
LEFT JOIN (
    SELECT experiment_id, argMax(name, kafka_offset) AS last_name, argMax(deleted, kafka_offset) AS gone,
           toNullable(max(event_time)) AS changed_time
    FROM experiment_changes GROUP BY experiment_id
) AS c ON c.experiment_id = e.experiment_id
SETTINGS join_use_nulls = 1;

ALTER TABLE inputs ADD COLUMN IF NOT EXISTS schema Nullable(String) AFTER context;
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS profile Nullable(String) AFTER schema
