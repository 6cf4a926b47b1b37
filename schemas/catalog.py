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


def _files(directory: Path) -> list[tuple[int, Path]]:
    """(version, path) of every RunEvent.v*.avsc in the directory, lowest version first."""
    found = [(int(m.group(1)), path) for path in directory.iterdir() if (m := _VERSION.match(path.name))]
    if not found:
        raise FileNotFoundError(f"no RunEvent.v*.avsc in {directory}")
    return sorted(found)


def _read(version: int, path: Path) -> SchemaVersion:
    parsed = parse_schema(json.loads(path.read_text()))
    return SchemaVersion(version, fingerprint_of(parsed), parsed)


@cache
def current_version() -> SchemaVersion:
    """The highest shipped schema version alone: all that encoding needs. Parsing and fingerprinting every older
    version too (fastavro's CRC-64 is a Python loop over the canonical form) cost a producer ~20 ms of CPU at its
    first event; only readers need them (`default_catalog`, which shares this object as its `current`)."""
    return _read(*_files(AVRO_DIR)[-1])


class SchemaCatalog:
    """Resolves writer schemas by fingerprint; the highest version is the reader (current) schema."""

    def __init__(self, directory: Path = AVRO_DIR) -> None:
        files = _files(directory)
        shipped = directory.resolve() == AVRO_DIR.resolve()
        versions = [current_version() if shipped and (n, p) == files[-1] else _read(n, p) for n, p in files]
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
