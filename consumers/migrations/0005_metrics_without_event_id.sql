-- A metric point no longer repeats its batch's event_id: (kafka_partition, kafka_offset) already name the
-- MetricsLogged event (join `events` on them for its id). Serializing a UUID per point was the largest single
-- cost of projecting and replaying metrics in Python (about 1 microsecond a point: see benchmarks/replay.py).
ALTER TABLE metrics DROP COLUMN IF EXISTS event_id
