-- requires-merge-tree-setting: auto_statistics_types
-- ClickHouse 26.x builds column statistics (`auto_statistics_types`: basic, uniq_v2) for every column of every
-- part a merge writes. No query here reads them (inserted parts have none: materialize_statistics_on_insert = 0),
-- and they cost ~10% of a metrics merge's CPU (1M points in 8 parts: 0.305 -> 0.276 s, lower in 13 of 14 rounds;
-- benchmarks/results/smallins-20261203e.md). A server without the setting (compose's 25.8) builds none: the
-- migration is skipped there (consumers/migrate.py) and tried again at the next start. The metrics table is not
-- in the list: 0027 makes `metrics` a view over `metric_chunks` (a server that gains the setting later retries this
-- after 0027, and a view takes no MergeTree setting); 0028 turns them off on `metric_chunks`.
ALTER TABLE experiments MODIFY SETTING auto_statistics_types = '';
ALTER TABLE experiment_changes MODIFY SETTING auto_statistics_types = '';
ALTER TABLE experiment_tags MODIFY SETTING auto_statistics_types = '';
ALTER TABLE runs MODIFY SETTING auto_statistics_types = '';
ALTER TABLE params MODIFY SETTING auto_statistics_types = '';
ALTER TABLE tags MODIFY SETTING auto_statistics_types = '';
ALTER TABLE run_state MODIFY SETTING auto_statistics_types = '';
ALTER TABLE artifacts MODIFY SETTING auto_statistics_types = '';
ALTER TABLE inputs MODIFY SETTING auto_statistics_types = '';
ALTER TABLE run_model_inputs MODIFY SETTING auto_statistics_types = '';
ALTER TABLE logged_models MODIFY SETTING auto_statistics_types = '';
ALTER TABLE logged_model_kv MODIFY SETTING auto_statistics_types = '';
ALTER TABLE logged_model_metrics MODIFY SETTING auto_statistics_types = '';
ALTER TABLE run_outputs MODIFY SETTING auto_statistics_types = '';
ALTER TABLE logged_model_artifacts MODIFY SETTING auto_statistics_types = '';
ALTER TABLE registry_changes MODIFY SETTING auto_statistics_types = '';
ALTER TABLE alert_rules MODIFY SETTING auto_statistics_types = '';
ALTER TABLE alert_firings MODIFY SETTING auto_statistics_types = '';
ALTER TABLE alert_deliveries MODIFY SETTING auto_statistics_types = '';
ALTER TABLE gateway_changes MODIFY SETTING auto_statistics_types = '';
ALTER TABLE events MODIFY SETTING auto_statistics_types = '';
ALTER TABLE run_metric_summary MODIFY SETTING auto_statistics_types = '';
ALTER TABLE event_offsets MODIFY SETTING auto_statistics_types = ''
