"""AI-gateway secrets: MLflow's masked form, the envelope encryption's round trip, and a wrong passphrase
failing clearly."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from query_api.mlflow.gateway_crypto import Keyring, SecretDecryptionError, mask, mask_values

SID = "s-" + "a" * 32
VALUE = {"aws_access_key_id": "AKIATEST1234", "aws_secret_access_key": "secret123abc"}


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring("test-passphrase-at-least-32-characters-long")


@pytest.mark.parametrize(("value", "masked"), [
    ("AKIATEST1234", "AKI...1234"), ("sk-test-12345", "sk-...2345"), ("initial-value-1234", "ini...1234"),
    ("12345678", "123...5678"), ("1234567", "***"), ("", "***"), (42, "***"),
])
def test_masks_as_mlflow_does(value: object, masked: str) -> None:
    assert mask(value) == masked


def test_masks_every_key_of_a_compound_secret() -> None:
    assert mask_values(VALUE) == {"aws_access_key_id": "AKI...1234", "aws_secret_access_key": "sec...3abc"}


def test_sealed_values_round_trip_and_hold_no_plaintext(keyring: Keyring) -> None:
    sealed = keyring.seal(SID, VALUE)
    assert keyring.open(SID, sealed) == VALUE
    raw = base64.b64decode(sealed.encrypted_value) + base64.b64decode(sealed.wrapped_dek)
    for plain in VALUE.values():
        assert plain.encode() not in raw and plain not in sealed.encrypted_value + sealed.wrapped_dek
    again = keyring.seal(SID, VALUE)
    assert again.encrypted_value != sealed.encrypted_value and again.wrapped_dek != sealed.wrapped_dek  # fresh DEK


def test_another_passphrase_cannot_open_a_secret_and_says_why(keyring: Keyring) -> None:
    sealed = keyring.seal(SID, VALUE)
    with pytest.raises(SecretDecryptionError, match="another passphrase"):
        Keyring("a-different-passphrase-entirely-0000").open(SID, sealed)


def test_a_ciphertext_moved_to_another_secret_does_not_open(keyring: Keyring) -> None:
    sealed = keyring.seal(SID, VALUE)
    with pytest.raises(SecretDecryptionError):
        keyring.open("s-" + "b" * 32, sealed)
    other = keyring.seal(SID, {"api_key": "sk-other-value"})
    with pytest.raises(SecretDecryptionError, match="does not match its data key"):
        keyring.open(SID, dataclasses.replace(sealed, encrypted_value=other.encrypted_value))


def test_an_unknown_key_version_is_refused(keyring: Keyring) -> None:
    sealed = dataclasses.replace(keyring.seal(SID, VALUE), kek_version=2)
    with pytest.raises(SecretDecryptionError, match="key version 2"):
        keyring.open(SID, sealed)


def test_no_passphrase_is_mlflows_default_and_reported() -> None:
    default, blank = Keyring(None), Keyring("")
    assert default.using_default_passphrase and blank.using_default_passphrase
    assert not Keyring("x" * 32).using_default_passphrase
    sealed = default.seal(SID, {"api_key": "sk-12345678"})
    assert json.dumps(blank.open(SID, sealed)) == '{"api_key": "sk-12345678"}'  # the same default key


def test_the_passphrase_setting_takes_runstreams_name_then_mlflows(monkeypatch: pytest.MonkeyPatch) -> None:
    from query_api.settings import ApiSettings

    monkeypatch.delenv("RUNSTREAM_GATEWAY_KEK_PASSPHRASE", raising=False)
    monkeypatch.delenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", raising=False)
    assert ApiSettings().gateway_kek_passphrase is None
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", "from-mlflow")
    passphrase = ApiSettings().gateway_kek_passphrase
    assert passphrase is not None and passphrase.get_secret_value() == "from-mlflow"
    assert "from-mlflow" not in repr(ApiSettings())  # a SecretStr: masked wherever settings are printed
    monkeypatch.setenv("RUNSTREAM_GATEWAY_KEK_PASSPHRASE", "from-runstream")
    passphrase = ApiSettings().gateway_kek_passphrase
    assert passphrase is not None and passphrase.get_secret_value() == "from-runstream"
    monkeypatch.setenv("RUNSTREAM_GATEWAY_KEK_PASSPHRASE", "")
    monkeypatch.setenv("MLFLOW_CRYPTO_KEK_PASSPHRASE", "")
    assert ApiSettings().gateway_kek_passphrase is None  # empty is unset, as MLflow reads it
    given = ApiSettings(gateway_kek_passphrase="by-name").gateway_kek_passphrase  # as ServerSettings passes it
    assert given is not None and given.get_secret_value() == "by-name"
