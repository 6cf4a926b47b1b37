-- runs_current gains where each run first appears in the log, so page tokens can hold a snapshot.
CREATE OR REPLACE VIEW runs_current AS
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
GROUP BY experiment_id, run_id
