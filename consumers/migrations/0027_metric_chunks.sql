-- Metric points stored as arrays, one row per MetricsLogged event and key (a "chunk"): the projector inserts and
-- ClickHouse sorts and merges ~100-200x fewer rows (benchmarks/results/chunks-20261204.md). Readers keep reading
-- `metrics`, now a view with the same columns (one row per point, through ARRAY JOIN); writers, positions and
-- maintenance use the table `metric_chunks`. A granule is 64 chunks (~13k points of 200-point chunks, as a granule of
-- the old table held 8,192 points): with 8,192 chunks a cold curve at 10,000 runs read ~1.8k chunks and took 17.8
-- against 10.0 ms. Existing points are copied into chunks per (experiment, run, key,
-- partition, offset), their arrays in point-index order (FINAL: a point stored twice is copied once), aggregated
-- in the table's order so that memory holds one series at a time (50M points: 6.0 GB of RSS without it).
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
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 64, merge_selector_base = 10,
         vertical_merge_algorithm_min_columns_to_activate = 1;

INSERT INTO metric_chunks (experiment_id, run_id, key, first_step, kafka_partition, kafka_offset, step, ts, value,
                           point_index)
SELECT experiment_id, run_id, key, tupleElement(points[1], 1), kafka_partition, kafka_offset,
       arrayMap(p -> tupleElement(p, 1), points), arrayMap(p -> tupleElement(p, 2), points),
       arrayMap(p -> tupleElement(p, 3), points), arrayMap(p -> tupleElement(p, 4), points)
FROM (
    SELECT experiment_id, run_id, key, kafka_partition, kafka_offset,
           arraySort(p -> tupleElement(p, 4), groupArray((step, ts, value, point_index))) AS points
    FROM metrics FINAL
    GROUP BY experiment_id, key, run_id, kafka_partition, kafka_offset
) SETTINGS optimize_aggregation_in_order = 1, max_threads = 1;

DROP TABLE IF EXISTS metrics SYNC;

CREATE VIEW IF NOT EXISTS metrics AS
SELECT experiment_id, run_id, key, step, ts, value, kafka_partition, kafka_offset, point_index
FROM metric_chunks ARRAY JOIN step, ts, value, point_index
