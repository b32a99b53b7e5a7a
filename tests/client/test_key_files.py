"""PAYERMAX_PRIVATE_KEY_FILE: refused when group or others may read it, unless explicitly allowed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from payermax_async import ConfigurationError, KeyPair, PayerMaxConfig

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


@pytest.fixture
def environ(merchant_keys: KeyPair, platform_keys: KeyPair, tmp_path: Path) -> dict[str, str]:
    """Variables naming a private key file (mode 0644, as a plain write leaves it) and a public one
    (mode 0644, which is fine for a public key)."""
    private = tmp_path / "merchant.pem"
    private.write_text(merchant_keys.private_key_pem)
    private.chmod(0o644)
    public = tmp_path / "platform.pem"
    public.write_text(platform_keys.public_key_pem)
    public.chmod(0o644)
    return {
        "PAYERMAX_APP_ID": "app-1",
        "PAYERMAX_MERCHANT_NO": "m-1",
        "PAYERMAX_PRIVATE_KEY_FILE": str(private),
        "PAYERMAX_PLATFORM_PUBLIC_KEY_FILE": str(public),
    }


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o700 | 0o004])
def test_an_open_private_key_file_is_refused_naming_file_and_mode(
    environ: dict[str, str], mode: int
) -> None:
    """Any group or other permission bit: ConfigurationError naming the variable, file and mode."""
    path = Path(environ["PAYERMAX_PRIVATE_KEY_FILE"])
    path.chmod(mode)
    with pytest.raises(ConfigurationError) as caught:
        PayerMaxConfig.from_env(environ)
    message = str(caught.value)
    assert "PAYERMAX_PRIVATE_KEY_FILE" in message
    assert str(path) in message
    assert f"{mode:04o}" in message
    assert "PRIVATE KEY" not in message


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_an_owner_only_private_key_file_loads(environ: dict[str, str], mode: int) -> None:
    """0600 and 0400 load; a public key file may be world-readable."""
    Path(environ["PAYERMAX_PRIVATE_KEY_FILE"]).chmod(mode)
    assert PayerMaxConfig.from_env(environ).private_key.key_size == 2048


@posix_only
@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_variable_allows_an_open_file(environ: dict[str, str], value: str) -> None:
    """PAYERMAX_ALLOW_OPEN_KEY_FILE=1 (or true/yes) accepts a 0644 private key file."""
    allowed = environ | {"PAYERMAX_ALLOW_OPEN_KEY_FILE": value}
    assert PayerMaxConfig.from_env(allowed).private_key.key_size == 2048


@posix_only
def test_the_keyword_allows_an_open_file_and_other_values_do_not(environ: dict[str, str]) -> None:
    """from_env(allow_open_key_file=True) accepts it; the variable set to 0 or empty does not."""
    assert PayerMaxConfig.from_env(environ, allow_open_key_file=True).private_key.key_size == 2048
    for value in ("0", "", "no"):
        with pytest.raises(ConfigurationError, match="0644"):
            PayerMaxConfig.from_env(environ | {"PAYERMAX_ALLOW_OPEN_KEY_FILE": value})


def test_windows_has_no_modes_to_check(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where POSIX modes do not exist (Windows), the check is skipped rather than guessed at."""
    import payermax_async._files as files

    monkeypatch.setattr(files, "_POSIX_MODES", False)
    assert PayerMaxConfig.from_env(environ).private_key.key_size == 2048


def test_a_huge_key_file_is_refused_before_parsing(environ: dict[str, str]) -> None:
    """A file far larger than any key: ConfigurationError naming it, without reading it all."""
    path = Path(environ["PAYERMAX_PRIVATE_KEY_FILE"])
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="larger than 65536 bytes"):
        PayerMaxConfig.from_env(environ)
