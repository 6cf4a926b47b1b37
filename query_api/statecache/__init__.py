"""The in-memory state path of run searches: experiments' exact current run state (cache.py), a search evaluated
over it (evaluate.py), answering what the SQL path answers without a ClickHouse round trip while it is current."""
