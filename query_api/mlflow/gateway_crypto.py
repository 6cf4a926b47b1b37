"""Envelope encryption of AI-gateway secret values, and their masked rendering (pure apart from randomness).

Each value gets its own data key (DEK, 256 bits): the value's JSON is encrypted with AES-GCM under it, bound
to the secret's id, and the DEK is itself encrypted ("wrapped") with AES-GCM under the key-encryption key (KEK)
derived from the server's passphrase with PBKDF2-HMAC-SHA256, as MLflow's server does. Only the ciphertexts
travel in the log; a different passphrase cannot unwrap them, and says so.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

# MLflow's default when MLFLOW_CRYPTO_KEK_PASSPHRASE is unset (secrets/config then reports
# using_default_passphrase): fine for a laptop, never for a shared server.
DEFAULT_PASSPHRASE = "mlflow-default-kek-passphrase-for-development-only"
KEK_VERSION = 1
PBKDF2_ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256, as MLflow
_SALT = b"runstream-gateway-kek"  # fixed: the key must be derivable again from the passphrase alone
_NONCE = 12


class SecretDecryptionError(Exception):
    """A sealed secret that this passphrase cannot open (another passphrase sealed it, or it was altered)."""


@dataclass(frozen=True)
class Sealed:
    encrypted_value: str  # base64(nonce + ciphertext)
    wrapped_dek: str  # base64(nonce + ciphertext of the DEK)
    kek_version: int


def mask(value: object) -> str:
    """MLflow's display form: the first 3 and last 4 characters (`sk-...2345`); `***` below 8 characters."""
    if not isinstance(value, str) or len(value) < 8:
        return "***"
    return f"{value[:3]}...{value[-4:]}"


def mask_values(values: dict[str, str]) -> dict[str, str]:
    return {key: mask(value) for key, value in values.items()}


def _seal(key: bytes, data: bytes, aad: bytes) -> str:
    nonce = os.urandom(_NONCE)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, data, aad)).decode("ascii")


def _open(key: bytes, sealed: str, aad: bytes) -> bytes:
    raw = base64.b64decode(sealed)
    return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)


class Keyring:
    """The KEK of one passphrase (derived once, on first use: PBKDF2 takes a noticeable fraction of a second)."""

    def __init__(self, passphrase: str | None) -> None:
        self.using_default_passphrase = not passphrase
        self._passphrase = passphrase or DEFAULT_PASSPHRASE
        self._kek: bytes | None = None
        self._lock = threading.Lock()

    def _key(self) -> bytes:
        with self._lock:
            if self._kek is None:
                kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32,
                                 salt=_SALT + KEK_VERSION.to_bytes(4, "big"), iterations=PBKDF2_ITERATIONS)
                self._kek = kdf.derive(self._passphrase.encode("utf-8"))
            return self._kek

    def seal(self, secret_id: str, values: dict[str, str]) -> Sealed:
        """The value encrypted under a fresh DEK bound to the secret's id, and the DEK wrapped by the KEK."""
        dek = AESGCM.generate_key(bit_length=256)
        aad = secret_id.encode("utf-8")
        encrypted = _seal(dek, json.dumps(values, sort_keys=True).encode("utf-8"), aad)
        return Sealed(encrypted, _seal(self._key(), dek, b"dek:" + aad), KEK_VERSION)

    def open(self, secret_id: str, sealed: Sealed) -> dict[str, str]:
        """The plain values of a sealed secret; SecretDecryptionError if this passphrase did not seal it."""
        if sealed.kek_version != KEK_VERSION:
            raise SecretDecryptionError(f"secret {secret_id} was sealed with key version {sealed.kek_version}; "
                                        f"this server has version {KEK_VERSION}")
        aad = secret_id.encode("utf-8")
        try:
            dek = _open(self._key(), sealed.wrapped_dek, b"dek:" + aad)
        except InvalidTag:
            raise SecretDecryptionError(
                f"cannot decrypt secret {secret_id}: it was encrypted with another passphrase "
                "(RUNSTREAM_GATEWAY_KEK_PASSPHRASE / MLFLOW_CRYPTO_KEK_PASSPHRASE) or altered") from None
        try:
            values: dict[str, str] = json.loads(_open(dek, sealed.encrypted_value, aad))
        except InvalidTag:
            raise SecretDecryptionError(f"secret {secret_id}: its value does not match its data key "
                                        "(altered, or moved from another secret)") from None
        return values
