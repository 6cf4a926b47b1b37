"""Opaque page tokens: an offset into a snapshot of the log, tied to the query that made them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

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
    snapshot: dict[int, int]  # partition -> last projected offset when the first page was read
    query: str  # fingerprint of the query the token belongs to

    def encode(self) -> str:
        body = {"o": self.offset, "s": {str(p): o for p, o in self.snapshot.items()}, "q": self.query}
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: str) -> PageToken:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            parsed = cls(int(raw["o"]), {int(p): int(o) for p, o in raw["s"].items()}, str(raw["q"]))
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise BadPageToken("page_token is not a token this server made") from None
        if parsed.query != query:
            raise BadPageToken("page_token belongs to a different search (filter, order_by or experiments changed)")
        if not in_range(parsed.offset, parsed.snapshot):
            raise BadPageToken("page_token is not a token this server made")
        return parsed


def query_fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
