-- Merges of metrics wait for more parts of a like size before merging them (ClickHouse's simple merge selector,
-- `merge_selector_base` 5 by default): each point is rewritten fewer times while a sweep is ingested. In-process
-- this cut the projector's CPU per 1M points 14-16% (benchmarks/results/drain-20261203b.md); end to end see
-- benchmarks/results/fresh-20261203c.md. More parts stay apart after a sweep (3 against 1-2 for 1M points).
ALTER TABLE metrics MODIFY SETTING merge_selector_base = 10
