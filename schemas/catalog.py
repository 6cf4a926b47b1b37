"""Every published schema version, looked up by its CRC-64-AVRO fingerprint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.errors import UnknownFingerprintError

AVRO_DIR = Path(__file__).parent / "avro"
_VERSION = re.compile(r"^RunEvent\.v(\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    fingerprint: bytes  # 8 bytes, little-endian as written on the wire
    parsed: Any


def fingerprint_of(parsed: Any) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint of a parsed schema, in wire (little-endian) order."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


class SchemaCatalog:
    """Resolves writer schemas by fingerprint; the highest version is the reader (current) schema."""

    def __init__(self, directory: Path = AVRO_DIR) -> None:
        versions = []
        for path in directory.iterdir():
            match = _VERSION.match(path.name)
            if match:
                parsed = parse_schema(json.loads(path.read_text()))
                versions.append(SchemaVersion(int(match.group(1)), fingerprint_of(parsed), parsed))
        if not versions:
            raise FileNotFoundError(f"no RunEvent.v*.avsc in {directory}")
        versions.sort(key=lambda v: v.version)
        self.versions: tuple[SchemaVersion, ...] = tuple(versions)
        self.current = versions[-1]
        self._by_fingerprint = {v.fingerprint: v for v in versions}

    def writer(self, fp: bytes) -> SchemaVersion:
        """The schema version that wrote a message with this fingerprint."""
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownFingerprintError(fp) from None


@cache
def default_catalog() -> SchemaCatalog:
    """The catalogue of the schemas shipped in this package (loaded once)."""
    return SchemaCatalog()
