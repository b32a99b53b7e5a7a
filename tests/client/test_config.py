"""Merchant configuration: environment variables, base URL rules, environments, repr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from payermax_async import Environment, KeyPair, PayerMaxClient, PayerMaxConfig
from payermax_async._config import check_base_url
from payermax_async.errors import ConfigurationError
from payermax_async.signing.keys import load_private_key
from tests.support.mock_gateway import REFERENCE


def _env(merchant_keys: KeyPair, platform_keys: KeyPair) -> dict[str, str]:
    return {
        "PAYERMAX_APP_ID": "app-1",
        "PAYERMAX_MERCHANT_NO": "010213834123456",
        "PAYERMAX_PRIVATE_KEY": merchant_keys.private_key,
        "PAYERMAX_PLATFORM_PUBLIC_KEY": platform_keys.public_key,
    }


def test_from_env_with_inline_keys(merchant_keys: KeyPair, platform_keys: KeyPair) -> None:
    """from_env builds a UAT config from inline one-line keys."""
    config = PayerMaxConfig.from_env(_env(merchant_keys, platform_keys))
    assert (config.app_id, config.merchant_no) == ("app-1", "010213834123456")
    assert config.environment is Environment.UAT
    assert config.gateway_url == Environment.UAT.base_url
    assert config.key_version == "1"


def test_from_env_with_key_files(
    merchant_keys: KeyPair, platform_keys: KeyPair, tmp_path: Path
) -> None:
    """*_FILE variables point at PEM files; ENV, BASE_URL and KEY_VERSION are read too."""
    private_file = tmp_path / "merchant.pem"
    public_file = tmp_path / "platform.pem"
    private_file.write_text(merchant_keys.private_key_pem)
    private_file.chmod(0o600)  # an open private key file is refused
    public_file.write_text(platform_keys.public_key_pem)
    environ = {
        "PAYERMAX_APP_ID": "app-1",
        "PAYERMAX_MERCHANT_NO": "m-1",
        "PAYERMAX_PRIVATE_KEY_FILE": str(private_file),
        "PAYERMAX_PLATFORM_PUBLIC_KEY_FILE": str(public_file),
        "PAYERMAX_ENV": "production",
        "PAYERMAX_BASE_URL": "http://127.0.0.1:8080/aggregate-pay/api/gateway/",
        "PAYERMAX_KEY_VERSION": "2",
    }
    config = PayerMaxConfig.from_env(environ)
    assert config.environment is Environment.PRODUCTION
    assert config.gateway_url == "http://127.0.0.1:8080/aggregate-pay/api/gateway"
    assert config.key_version == "2"
    assert config.private_key.key_size == 2048


def test_from_env_reads_os_environ(
    monkeypatch: pytest.MonkeyPatch, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """Without an explicit mapping, from_env reads the process environment."""
    for name, value in _env(merchant_keys, platform_keys).items():
        monkeypatch.setenv(name, value)
    assert PayerMaxConfig.from_env().app_id == "app-1"


@pytest.mark.parametrize(
    "missing",
    [
        "PAYERMAX_APP_ID",
        "PAYERMAX_MERCHANT_NO",
        "PAYERMAX_PRIVATE_KEY",
        "PAYERMAX_PLATFORM_PUBLIC_KEY",
    ],
)
def test_from_env_names_the_missing_variable(
    merchant_keys: KeyPair, platform_keys: KeyPair, missing: str
) -> None:
    """A missing required variable is a ConfigurationError naming it."""
    environ = _env(merchant_keys, platform_keys)
    del environ[missing]
    with pytest.raises(ConfigurationError, match=missing):
        PayerMaxConfig.from_env(environ)


def test_from_env_refuses_inline_and_file_together(
    merchant_keys: KeyPair, platform_keys: KeyPair, tmp_path: Path
) -> None:
    """Setting both PAYERMAX_PRIVATE_KEY and PAYERMAX_PRIVATE_KEY_FILE is an error."""
    key_file = tmp_path / "k.pem"
    key_file.write_text(merchant_keys.private_key_pem)
    environ = _env(merchant_keys, platform_keys) | {"PAYERMAX_PRIVATE_KEY_FILE": str(key_file)}
    with pytest.raises(ConfigurationError, match="not both"):
        PayerMaxConfig.from_env(environ)


def test_from_env_unreadable_file(
    merchant_keys: KeyPair, platform_keys: KeyPair, tmp_path: Path
) -> None:
    """A *_FILE that cannot be read names the variable."""
    environ = _env(merchant_keys, platform_keys)
    del environ["PAYERMAX_PLATFORM_PUBLIC_KEY"]
    environ["PAYERMAX_PLATFORM_PUBLIC_KEY_FILE"] = str(tmp_path / "absent.pem")
    with pytest.raises(ConfigurationError, match="PAYERMAX_PLATFORM_PUBLIC_KEY_FILE"):
        PayerMaxConfig.from_env(environ)


def test_from_env_bad_environment(merchant_keys: KeyPair, platform_keys: KeyPair) -> None:
    """PAYERMAX_ENV other than uat/production is refused."""
    environ = _env(merchant_keys, platform_keys) | {"PAYERMAX_ENV": "staging"}
    with pytest.raises(ConfigurationError, match="uat"):
        PayerMaxConfig.from_env(environ)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/aggregate-pay/api/gateway",
        "http://127.5.5.5/gw",
        "http://[::1]:8080/aggregate-pay/api/gateway",
        "http://localhost:8080/gw",
        "http://LOCALHOST/gw",
        "https://pay-gate-uat.payermax.com/aggregate-pay/api/gateway",
        "https://10.0.0.1/gw",
    ],
)
def test_base_url_allowed(url: str) -> None:
    """https anywhere, plain http only to loopback hosts."""
    assert check_base_url(url + "/") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/gw",
        "http://example.com/gw",
        "http://127.0.0.1.example.com/gw",
        "http://192.168.1.10:8080/gw",
        "ftp://127.0.0.1/gw",
        "127.0.0.1:8080/gw",
        "https://example.com/gw?x=1",
        "",
    ],
)
def test_base_url_refused(url: str) -> None:
    """http to a non-loopback host, other schemes, relative URLs and queries are refused."""
    with pytest.raises(ConfigurationError):
        check_base_url(url)


def test_config_refuses_a_non_loopback_http_url(
    merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """PayerMaxConfig(base_url=http://example.com) fails at construction."""
    with pytest.raises(ConfigurationError, match=r"example\.com"):
        PayerMaxConfig(
            app_id="a",
            merchant_no="m",
            merchant_private_key=merchant_keys.private_key,
            platform_public_key=platform_keys.public_key,
            base_url="http://example.com/gw",
        )


def test_repr_contains_no_key_text(merchant_keys: KeyPair, platform_keys: KeyPair) -> None:
    """repr/str of a config (with a key password) show no part of any key or the password."""
    password = "sup3r-s3cret-passw0rd"
    encrypted = load_private_key(merchant_keys.private_key).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    )
    config = PayerMaxConfig(
        app_id="app-1",
        merchant_no="m-1",
        merchant_private_key=encrypted,
        platform_public_key={"1": platform_keys.public_key},
        key_password=password,
    )
    text = repr(config) + str(config)
    assert "app-1" in text
    assert password not in text
    assert encrypted.decode().splitlines()[1][:16] not in text
    for key in (merchant_keys.private_key, merchant_keys.private_key_pem, platform_keys.public_key):
        compact = "".join(line for line in key.splitlines() if not line.startswith("-----"))
        for start in range(0, len(compact) - 16, 16):
            assert compact[start : start + 16] not in text


def test_environment_urls_match_the_protocol() -> None:
    """Environment.UAT/PRODUCTION are the hosts of docs/protocol.md §1."""
    assert Environment.UAT.base_url == (
        "https://pay-gate-uat.payermax.com/aggregate-pay/api/gateway"
    )
    assert Environment.PRODUCTION.base_url == (
        "https://pay-gate.payermax.com/aggregate-pay/api/gateway"
    )
    assert Environment("uat") is Environment.UAT
    assert Environment("production") is Environment.PRODUCTION


def test_environment_urls_match_the_openapi_servers() -> None:
    """The OpenAPI file's paths live under the same gateway prefix."""
    document = json.loads((REFERENCE / "payermax-payout-openapi.json").read_text("utf-8"))
    assert any(path.startswith("/aggregate-pay/api/gateway/") for path in document["paths"])
    assert Environment.UAT.base_url.endswith("/aggregate-pay/api/gateway")


def test_config_accepts_environment_names(merchant_keys: KeyPair, platform_keys: KeyPair) -> None:
    """environment= takes the enum or its name in any case."""
    config = PayerMaxConfig(
        app_id="a",
        merchant_no="m",
        merchant_private_key=merchant_keys.private_key,
        platform_public_key=platform_keys.public_key,
        environment="PRODUCTION",
    )
    assert config.gateway_url == Environment.PRODUCTION.base_url


def test_config_refuses_empty_identifiers(merchant_keys: KeyPair, platform_keys: KeyPair) -> None:
    """An empty app_id or merchant_no is refused at construction."""
    with pytest.raises(ConfigurationError, match="app_id"):
        PayerMaxConfig(
            app_id=" ",
            merchant_no="m",
            merchant_private_key=merchant_keys.private_key,
            platform_public_key=platform_keys.public_key,
        )


def test_client_refuses_a_non_config() -> None:
    """PayerMaxClient wants a PayerMaxConfig, and says so."""
    with pytest.raises(ConfigurationError, match="PayerMaxConfig"):
        PayerMaxClient({"app_id": "a"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:abc/gw", "https://pay-gate.example:99999/x"]
)
def test_malformed_base_urls_are_configuration_errors(url: str) -> None:
    """A URL urllib cannot even split (bad IPv6 brackets, a non-numeric or impossible port) is a
    ConfigurationError, never a bare ValueError."""
    with pytest.raises(ConfigurationError):
        check_base_url(url)


def test_from_env_refuses_a_binary_key_file(
    tmp_path: Path, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """A key file that is not text (e.g. DER bytes) is a ConfigurationError naming the variable."""
    der = tmp_path / "merchant.der"
    der.write_bytes(b"\x30\x82\xff\xfe" * 40)
    der.chmod(0o600)
    env = {
        "PAYERMAX_APP_ID": "app",
        "PAYERMAX_MERCHANT_NO": "m1",
        "PAYERMAX_PRIVATE_KEY_FILE": str(der),
        "PAYERMAX_PLATFORM_PUBLIC_KEY": platform_keys.public_key,
    }
    with pytest.raises(ConfigurationError, match="PAYERMAX_PRIVATE_KEY_FILE is not a text key"):
        PayerMaxConfig.from_env(env)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://pay-gate.payermax.com@evil.example/aggregate-pay/api/gateway", "userinfo"),
        ("https://user:secret-pw@pay-gate.payermax.com/gw", "userinfo"),
        ("https://pay-gate.payermax.com:443@evil.example/gw", "userinfo"),
        ("https://pay-gate.payermax.com/gw?", "query"),
        ("https://pay-gate.payermax.com/gw?debug=1", "query"),
        ("https://pay-gate.payermax.com/gw#", "fragment"),
        ("https://pay-gate.payermax.com/gw#top", "fragment"),
        ("https://pay-gate.payermax.com\\@evil.example/gw", "backslash"),
        ("https://pay-gate.payermax.com\t.evil.example/gw", "whitespace"),
        ("https://%65vil.example/gw", "percent-encode"),
        ("https://pàyermax.com/gw", "ASCII"),
    ],
)
def test_base_url_naming_another_host_is_refused(url: str, problem: str) -> None:
    """Userinfo, queries and fragments (even empty ones), backslashes, whitespace, percent-encoded
    or non-ASCII hosts are ConfigurationErrors that name the problem and never repeat the URL."""
    with pytest.raises(ConfigurationError, match=problem) as info:
        check_base_url(url)
    assert "secret-pw" not in str(info.value)
    assert "evil.example" not in str(info.value)


def test_config_refuses_userinfo_in_base_url(
    merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """PayerMaxConfig(base_url=https://pay-gate.payermax.com@evil.example/...) fails at construction."""
    with pytest.raises(ConfigurationError, match="userinfo"):
        PayerMaxConfig(
            app_id="a",
            merchant_no="m",
            merchant_private_key=merchant_keys.private_key,
            platform_public_key=platform_keys.public_key,
            base_url="https://pay-gate.payermax.com@evil.example/aggregate-pay/api/gateway",
        )


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1.nip.io", "localhost.evil.com", "0x7f.1", "127.1", "2130706433", "localhost."],
)
def test_plain_http_to_a_host_that_only_looks_local_is_refused(host: str) -> None:
    """Names and spellings that resolve to loopback only through DNS or lenient parsers are not
    loopback hosts: plain http to them is refused."""
    with pytest.raises(ConfigurationError, match="plain http"):
        check_base_url(f"http://{host}/gw")
