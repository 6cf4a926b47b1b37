-- A page of runs read its metric summaries' last values with argMaxMerge(last_value), which deserializes every
-- argMax state the read touches: at 10,000 runs a page of 100 runs reads all 50,000 rows of the experiment (the
-- table is ordered by key, then run) and the states were half the statement (36 against 16 ms in-process,
-- benchmarks/results/cold-search-20261202c.md). last_point holds the same last point as a plain tuple
-- (step, ts, kafka_offset, point_index, value) merged with max: the greatest tuple is the point argMax picks (the
-- value only decides between equal keys, i.e. the same point written twice), so max(last_point).5 is the last
-- value. The table is rebuilt from metrics (its one definition, consumers/derived.py) and swapped in, since the
-- states of the rows already there cannot say their point's key (the layout is 0003's plus the column). Rerun
-- after a crash, it starts over.
DROP TABLE IF EXISTS run_metric_summary_0022;
CREATE TABLE run_metric_summary_0022 (
    experiment_id String,
    key LowCardinality(String),
    run_id String,
    last_value AggregateFunction(argMax, Float64, Tuple(Int64, DateTime64(3, 'UTC'), UInt64, UInt32)),
    last_point SimpleAggregateFunction(max, Tuple(Int64, DateTime64(3, 'UTC'), UInt64, UInt32, Float64)),
    min_value SimpleAggregateFunction(min, Nullable(Float64)),
    max_value SimpleAggregateFunction(max, Nullable(Float64)),
    sum_value SimpleAggregateFunction(sum, Float64),
    value_count SimpleAggregateFunction(sum, UInt64),
    point_count SimpleAggregateFunction(sum, UInt64),
    last_step SimpleAggregateFunction(max, Int64),
    last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    kafka_partition UInt32,
    kafka_offset SimpleAggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (experiment_id, key, run_id, kafka_partition)
SETTINGS non_replicated_deduplication_window = 1000;
INSERT INTO run_metric_summary_0022 (experiment_id, key, run_id, last_value, last_point, min_value, max_value,
                                     sum_value, value_count, point_count, last_step, last_ts, kafka_partition,
                                     kafka_offset)
SELECT experiment_id, key, run_id,
       argMaxState(value, (step, ts, kafka_offset, point_index)),
       max((step, ts, kafka_offset, point_index, value)),
       min(if(isNaN(value), NULL, value)), max(if(isNaN(value), NULL, value)),
       sumIf(value, NOT isNaN(value)), countIf(NOT isNaN(value)),
       count(), max(step), max(ts),
       kafka_partition, max(kafka_offset)
FROM metrics
GROUP BY experiment_id, key, run_id, kafka_partition;
EXCHANGE TABLES run_metric_summary AND run_metric_summary_0022;
DROP TABLE run_metric_summary_0022
