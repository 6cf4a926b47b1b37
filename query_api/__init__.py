"""The query layer: a FastAPI app over the ClickHouse projections, and the `runstream` command."""
