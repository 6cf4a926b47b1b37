"""The projector: Kafka run events into ClickHouse tables."""
