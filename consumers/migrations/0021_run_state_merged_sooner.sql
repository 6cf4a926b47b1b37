-- run_state is read with FINAL, which costs what its parts' overlap costs: over 10,000 runs ~70 ms as one part,
-- ~155-170 ms while the parts of a sweep's last inserts are still apart (measured over HTTP through
-- `runstream up`, benchmarks/results/cold-queries-20261202.md). With 10 s, a search in the ~20 s after a sweep's
-- last insert paid that (the force-merge needs every part of a range older than the setting, and the merge
-- scheduler backs off while idle). 3 s keeps the table merged sooner for the cost of merging its old parts
-- (a few MB at 10,000 runs) a little more often while runs are written.
ALTER TABLE run_state MODIFY SETTING min_age_to_force_merge_seconds = 3
