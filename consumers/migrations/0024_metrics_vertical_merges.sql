-- Merges of metrics use ClickHouse's vertical algorithm: the sorting-key columns are merged first, then the other
-- columns (ts, value) are gathered one at a time in the order found. The default activates it only for tables of
-- 11 columns or more, and metrics has 9, so its merges ran horizontally. A rebuild swaps in ~17 parts of ~300k
-- points (5M points); merging them is paid by whatever runs next (verify, in make bench-replay: 3.4-4.3 s of its
-- CPU). Measured alternated in one process on the migrated table, 5M points in 17 parts, OPTIMIZE FINAL, CPU of
-- every thread: 5.40 / 5.74 / 5.65 s horizontal against 3.69 / 4.02 / 3.89 s vertical (-31%), same rows
-- (benchmarks/results/replay-20261202c.md). Small merges (under 131,072 rows, the default) stay horizontal.
ALTER TABLE metrics MODIFY SETTING vertical_merge_algorithm_min_columns_to_activate = 1
