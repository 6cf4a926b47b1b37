-- requires-merge-tree-setting: auto_statistics_types
-- What 0026 did for every other table, for the table behind the `metrics` view (0027): no column statistics built
-- by merges, which no query reads. A migration of its own, because 0027 must apply on a server without the setting.
ALTER TABLE metric_chunks MODIFY SETTING auto_statistics_types = ''
