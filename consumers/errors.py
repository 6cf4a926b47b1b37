"""Errors of the projector and its ClickHouse edge."""


class ConsumerError(Exception):
    """Root of the consumers package's errors."""


class MigrationError(ConsumerError):
    """A schema migration could not be applied."""


class SinkError(ConsumerError):
    """ClickHouse refused an insert even after retries; the batch's offsets were not committed."""
