-- metrics stores experiment_id and run_id as LowCardinality(String): a part holds a few hundred runs, each
-- repeated over thousands of points. ClickHouse allows this type change on sorting-key columns (the values and
-- their order stay the same); it rewrites the existing parts as a mutation (chdb applies it before the ALTER
-- returns), and reads convert parts not yet rewritten, so every row stays. Rebuild shadows (CREATE TABLE ... AS
-- metrics) take the new types. Running it again is a no-op.
ALTER TABLE metrics MODIFY COLUMN experiment_id LowCardinality(String), MODIFY COLUMN run_id LowCardinality(String)
