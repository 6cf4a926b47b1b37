-- One fold for "now" and for any past instant: runs_as_of is the fold of run attribute changes up to
-- an instant (a parameterized view); runs_current is that fold at the end of time.
CREATE VIEW IF NOT EXISTS runs_as_of AS
SELECT
    experiment_id,
    run_id,
    argMax(name, (event_time, seq)) AS name,
    argMax(user, (event_time, seq)) AS user,
    argMax(parent_run_id, (event_time, seq)) AS parent_run_id,
    argMax(source, (event_time, seq)) AS source,
    argMax(description, (event_time, seq)) AS description,
    argMax(status, (event_time, seq)) AS status,
    min(start_time) AS start_time,
    argMax(end_time, (event_time, seq)) AS end_time,
    ifNull(argMax(deleted, (event_time, seq)), 0) AS deleted,
    max(event_time) AS updated_time,
    any(kafka_partition) AS kafka_partition,
    min(kafka_offset) AS first_offset
FROM runs
WHERE event_time <= {as_of:DateTime64(6, 'UTC')}
GROUP BY experiment_id, run_id;

CREATE OR REPLACE VIEW runs_current AS
SELECT * FROM runs_as_of(as_of = '2262-01-01 00:00:00')
