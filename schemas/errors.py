"""Errors raised while encoding, decoding or validating run events."""


class SchemaError(Exception):
    """Root of every error in the schemas package."""


class DecodeError(SchemaError):
    """The bytes are not a decodable single-object-encoded RunEvent."""

    reason = "undecodable"


class BadMagicError(DecodeError):
    """The message does not start with the Avro single-object marker C3 01."""

    reason = "bad_magic"


class UnknownFingerprintError(DecodeError):
    """No schema in the catalogue has the message's CRC-64-AVRO fingerprint."""

    reason = "unknown_fingerprint"

    def __init__(self, fingerprint: bytes) -> None:
        super().__init__(f"no known schema has fingerprint {fingerprint.hex()}")
        self.fingerprint = fingerprint


class TruncatedMessageError(DecodeError):
    """The Avro body ended early, or bytes were left over after it."""

    reason = "truncated"


class InvalidEventError(SchemaError):
    """The event decoded but breaks a rule of its meaning (empty run_id, unknown status, ...)."""

    reason = "invalid"
