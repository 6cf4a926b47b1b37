-- requires-merge-tree-setting: min_bytes_for_full_part_storage
-- Parts under 16 MiB (uncompressed) are written as one `data.packed` file in their directory instead of ~11 files.
-- Every insert group writes one small part per table, and each merge another: on this project's own machines
-- (ext4 without a journal) creating a file costs 0.2-0.7 ms of kernel CPU once many files were deleted recently
-- (ext4 then skips every recently freed inode, one by one, for each new one), so the files of those parts were a
-- large share of the projector's system time (docs/findings.md, "Packed parts"). Larger parts (merged metrics)
-- stay in full storage. A server whose ClickHouse has the setting only as a Cloud no-op (25.x) accepts it and writes
-- full parts as before; one without it skips this migration. A ClickHouse from before open packed storage (mid-2026) cannot
-- read a data directory holding packed parts: pyproject.toml asks for chdb >= 4.4 (ClickHouse 26.9).
ALTER TABLE experiments MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE experiment_changes MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE experiment_tags MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE runs MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE params MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE tags MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE run_state MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE artifacts MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE inputs MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE run_model_inputs MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE logged_models MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE logged_model_kv MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE logged_model_metrics MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE run_outputs MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE logged_model_artifacts MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE registry_changes MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE alert_rules MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE alert_firings MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE alert_deliveries MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE gateway_changes MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE events MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE run_metric_summary MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE event_offsets MODIFY SETTING min_bytes_for_full_part_storage = 16777216;
ALTER TABLE metric_chunks MODIFY SETTING min_bytes_for_full_part_storage = 16777216
