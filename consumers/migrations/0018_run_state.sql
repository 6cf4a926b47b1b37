-- Each run as it stands now (consumers/projections/run_state.py): one row per event that changes a run's
-- attributes, params or tags, merged into one row per run. Every column is a duplicate-proof aggregate, so the
-- latest change wins as in the fold of `runs` (argMax by (event_time, seq)) whatever order rows arrive or merge
-- in, and a re-applied row changes nothing:
-- * an attribute is the greatest (event_time, seq, value); an event that does not change it writes
--   ('1900-01-01', min Int64, NULL), which every change outranks;
-- * params and tags are maps merged key by key (maxMap) whose values start with their version as 32 hex digits
--   (event_time in microseconds, then seq, each Int64 with its sign bit flipped, so text order is time order);
--   a tag's version is followed by '1' when the event deleted it, else '0'. (Tuples as map values merged twice
--   as slowly: 42-60 against 22 ms for 10,000 runs.)
-- Readers merge with FINAL or GROUP BY (query_api/queries/run_state.py). Parts older than 10 s are merged, since
-- FINAL over a merged table costs ~10 ms at 10,000 runs and over one with a small fresh part ~80 ms.
CREATE TABLE IF NOT EXISTS run_state (
    experiment_id String,
    run_id String,
    kafka_partition UInt32,
    name SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String))),
    user SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String))),
    parent_run_id SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String))),
    source SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String))),
    description SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String))),
    status SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(String))),
    start_time SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    end_time SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(DateTime64(6, 'UTC')))),
    deleted SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), Int64, Nullable(UInt8))),
    updated_time SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC'))),
    first_offset SimpleAggregateFunction(min, Nullable(UInt64)),
    params SimpleAggregateFunction(maxMap, Map(String, String)),
    tags SimpleAggregateFunction(maxMap, Map(String, String)),
    kafka_offset SimpleAggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (experiment_id, run_id, kafka_partition)
SETTINGS non_replicated_deduplication_window = 1000, min_age_to_force_merge_seconds = 10;

-- A database projected before this migration: the same rows from the tables it already holds (the projector
-- then continues from their offsets; a rebuild writes the same table from the log).
INSERT INTO run_state
WITH CAST(('1900-01-01 00:00:00', -9223372036854775808, NULL), 'Tuple(DateTime64(6, \'UTC\'), Int64, Nullable(String))') AS unset
SELECT experiment_id, run_id, kafka_partition,
       if(isNull(name), unset, (event_time, seq, name)),
       if(isNull(user), unset, (event_time, seq, user)),
       if(isNull(parent_run_id), unset, (event_time, seq, parent_run_id)),
       if(isNull(source), unset, (event_time, seq, source)),
       if(isNull(description), unset, (event_time, seq, description)),
       if(isNull(status), unset, (event_time, seq, toString(status))),
       start_time,
       if(isNull(end_time), CAST(unset, 'Tuple(DateTime64(6, \'UTC\'), Int64, Nullable(DateTime64(6, \'UTC\')))'),
          (event_time, seq, end_time)),
       if(isNull(deleted), CAST(unset, 'Tuple(DateTime64(6, \'UTC\'), Int64, Nullable(UInt8))'), (event_time, seq, deleted)),
       event_time, kafka_offset, map(), map(), kafka_offset
FROM runs FINAL;

INSERT INTO run_state
WITH CAST(('1900-01-01 00:00:00', -9223372036854775808, NULL), 'Tuple(DateTime64(6, \'UTC\'), Int64, Nullable(String))') AS unset,
     concat(leftPad(hex(bitXor(reinterpretAsUInt64(toUnixTimestamp64Micro(event_time)), toUInt64(9223372036854775808))), 16, '0'),
            leftPad(hex(bitXor(reinterpretAsUInt64(seq), toUInt64(9223372036854775808))), 16, '0')) AS version
SELECT experiment_id, run_id, kafka_partition, unset, unset, unset, unset, unset, unset, NULL, unset, unset, NULL,
       NULL, map(key, concat(version, value)), map(), kafka_offset
FROM params FINAL;

INSERT INTO run_state
WITH CAST(('1900-01-01 00:00:00', -9223372036854775808, NULL), 'Tuple(DateTime64(6, \'UTC\'), Int64, Nullable(String))') AS unset,
     concat(leftPad(hex(bitXor(reinterpretAsUInt64(toUnixTimestamp64Micro(event_time)), toUInt64(9223372036854775808))), 16, '0'),
            leftPad(hex(bitXor(reinterpretAsUInt64(seq), toUInt64(9223372036854775808))), 16, '0')) AS version
SELECT experiment_id, run_id, kafka_partition, unset, unset, unset, unset, unset, unset, NULL, unset, unset, NULL,
       NULL, map(), map(key, concat(version, toString(deleted), value)), kafka_offset
FROM tags FINAL
