"""Opaque page tokens: an offset into a snapshot of the log, tied to the query that made them.

One token, two spellings: runstream's own (compact, URL-safe) and MLflow's (base64 JSON holding an "offset",
as MLflow's clients expect); both carry the same offset, snapshot and query fingerprint."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

MAX_OFFSET = 2**31 - 1  # rows to skip; far beyond any result set (a forged 10**30 would overflow ClickHouse's UInt64)
INT64_MAX = 2**63 - 1
_MALFORMED = (binascii.Error, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError)


MAX_OFFSET = 2**31 - 1  # rows to skip; far beyond any result set (a forged 10**30 would overflow ClickHouse's UInt64)
INT64_MAX = 2**63 - 1


class BadPageToken(ValueError):
    """The page token was not made by this server for this query."""


def in_range(offset: int, snapshot: dict[int, int] | None) -> bool:
    """A token's numbers are ones this server could have written: a row offset and Kafka coordinates."""
    return 0 <= offset <= MAX_OFFSET and all(0 <= p <= MAX_OFFSET and -1 <= o <= INT64_MAX
                                             for p, o in (snapshot or {}).items())


@dataclass(frozen=True)
class PageToken:
    offset: int
    snapshot: dict[int, int] | None  # partition -> last projected offset when the first page was read
    query: str  # fingerprint of the query the token belongs to

    def encode(self) -> str:
        """runstream's spelling."""
        body = {"o": self.offset, "s": {str(p): o for p, o in (self.snapshot or {}).items()}, "q": self.query}
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: str) -> PageToken:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            parsed = cls(int(raw["o"]), {int(p): int(o) for p, o in raw["s"].items()}, str(raw["q"]))
        except _MALFORMED:
            raise BadPageToken("page_token is not a token this server made") from None
        return parsed._checked(query, "page_token belongs to a different search (filter, order_by or "
                                      "experiments changed)", "page_token is not a token this server made")

    def encode_mlflow(self) -> str:
        """MLflow's spelling: base64 JSON with an "offset"."""
        body: dict[str, Any] = {"offset": self.offset, "query": self.query}
        if self.snapshot is not None:
            body["snapshot"] = {str(p): o for p, o in self.snapshot.items()}
        return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()

    @classmethod
    def decode_mlflow(cls, token: str, query: str) -> PageToken:
        try:
            raw = json.loads(base64.b64decode(token, validate=True))
            snapshot = {int(p): int(o) for p, o in raw["snapshot"].items()} if "snapshot" in raw else None
            parsed = cls(int(raw["offset"]), snapshot, str(raw["query"]))
        except _MALFORMED:
            raise BadPageToken(f"Invalid page token, could not base64-decode and parse: {token!r}") from None
        return parsed._checked(query, "Invalid page token: it belongs to a different search (filter, order_by "
                                      "or scope changed)", f"Invalid page token: {token[:100]!r} holds numbers this "
                                      "server never writes")

    def _checked(self, query: str, other_query: str, negative: str) -> PageToken:
        if self.query != query:
            raise BadPageToken(other_query)
        if not in_range(self.offset, self.snapshot):
            raise BadPageToken(negative)
        return self


def query_fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
