-- A search page reads the metric summaries of its runs (query_api/queries/runs.py, metric_summaries_sql), ~100
-- runs out of an experiment's thousands. Ordered by (experiment, key, run) in granules of 8192 rows, those runs
-- touched every granule, so the page read and deserialized every argMax state of the experiment (50,000 rows at
-- 10,000 runs x 5 metrics, half of the statement's time). The same rows are kept a second time ordered by run in
-- granules of 16 (projection by_run): a page of 100 runs reads ~2,000 rows. ClickHouse chooses a projection by
-- marks to read, so the table's own granules become 128 rows (a page of 100 runs: ~390 marks of the table against
-- ~120 of by_run); reads by key (leaderboards, metric filters) still read the table's order.
-- benchmarks/results/cold-search-20261202b.md. Merges rebuild the projection (an AggregatingMergeTree refuses a
-- projection unless told what to do with it when rows are merged). A rebuild's shadow table (CREATE TABLE ... AS)
-- copies both. The table is made anew (index_granularity cannot be altered) and swapped in.
DROP TABLE IF EXISTS run_metric_summary_0022;

CREATE TABLE run_metric_summary_0022 (
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
    last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    kafka_partition UInt32,
    kafka_offset SimpleAggregateFunction(max, UInt64),
    PROJECTION by_run (SELECT * ORDER BY experiment_id, run_id, key, kafka_partition)
        WITH SETTINGS (index_granularity = 16)
) ENGINE = AggregatingMergeTree
ORDER BY (experiment_id, key, run_id, kafka_partition)
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 128,
         deduplicate_merge_projection_mode = 'rebuild'
AS SELECT * FROM run_metric_summary;

EXCHANGE TABLES run_metric_summary AND run_metric_summary_0022;

DROP TABLE run_metric_summary_0022
