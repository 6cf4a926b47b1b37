-- Metric points stored as arrays, one row per MetricsLogged event and key (a "chunk"): the projector inserts
-- ~100x fewer rows and ClickHouse merges ~100x fewer (benchmarks/results/chunks-20261204.md).
CREATE TABLE IF NOT EXISTS metric_chunks (
    experiment_id String,
    run_id String,
    key LowCardinality(String),
    first_step Int64,
    kafka_partition UInt32,
    kafka_offset UInt64 CODEC(Delta, LZ4),
    step Array(Int64) CODEC(Delta, LZ4),
    ts Array(DateTime64(3, 'UTC')) CODEC(DoubleDelta, LZ4),
    value Array(Float64) CODEC(Gorilla, LZ4),
    point_index Array(UInt32) CODEC(Delta, LZ4)
) ENGINE = ReplacingMergeTree
ORDER BY (experiment_id, key, run_id, first_step, kafka_partition, kafka_offset)
SETTINGS non_replicated_deduplication_window = 1000, merge_selector_base = 10,
         vertical_merge_algorithm_min_columns_to_activate = 1
