"""Merchant configuration: credentials, keys, environment and gateway URL."""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from cryptography.hazmat.primitives.asymmetric import rsa
from yarl import URL

from ._files import allow_open_key_files, read_key_file
from .errors import ConfigurationError
from .signing import RsaVerifier
from .signing.keys import KeyMaterial, load_private_key

__all__ = ["Environment", "PayerMaxConfig", "check_base_url", "is_loopback_host", "key_from_env"]


class Environment(str, enum.Enum):
    """A PayerMax environment; each has its own host, appId and keys."""

    UAT = "uat"
    PRODUCTION = "production"

    @property
    def base_url(self) -> str:
        """The gateway prefix; requests go to ``<base_url>/<apiName>``."""
        return _HOSTS[self]


_HOSTS = {
    Environment.UAT: "https://pay-gate-uat.payermax.com/aggregate-pay/api/gateway",
    Environment.PRODUCTION: "https://pay-gate.payermax.com/aggregate-pay/api/gateway",
}


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is 127.0.0.0/8, ``::1`` or ``localhost`` (brackets around IPv6 allowed)."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash if it is an allowed gateway prefix.

    ``https://`` is always allowed; plain ``http://`` only for loopback hosts (127.0.0.0/8, ::1,
    localhost), so that a typo can never send signed payouts in clear text over a network. The URL
    must name its host plainly: userinfo (``https://pay-gate.payermax.com@evil.example/``, which
    connects to ``evil.example``), a query, a fragment, a backslash, whitespace or control
    characters are refused, as is any URL that Python's and aiohttp's URL parsers read as different
    hosts. Messages never repeat the URL (userinfo may hold a password).

    Raises:
        ConfigurationError: the URL is malformed, not http(s), ambiguous, or http to a non-loopback
            host.
    """
    if not isinstance(url, str) or not url.strip():
        msg = "base_url must be a non-empty string"
        raise ConfigurationError(msg)
    url = url.strip()
    _check_base_url_characters(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        msg = "base_url is not a valid URL (check the brackets around an IPv6 host and the port)"
        raise ConfigurationError(msg) from None
    if parts.scheme not in ("http", "https") or not host:
        msg = f"base_url must be an absolute http(s) URL, got scheme {parts.scheme or '<none>'!r}"
        raise ConfigurationError(msg)
    if "@" in parts.netloc:
        msg = (
            "base_url must not carry userinfo ('user:password@' before the host): the part "
            "after '@' is the host that would be contacted"
        )
        raise ConfigurationError(msg)
    if "%" in parts.netloc:
        msg = "base_url must not percent-encode its host or port"
        raise ConfigurationError(msg)
    if parts.scheme == "http" and not is_loopback_host(host):
        msg = (
            f"base_url uses plain http to {host!r}; only https is allowed except for loopback "
            "hosts (127.0.0.1, ::1, localhost)"
        )
        raise ConfigurationError(msg)
    _check_same_host_for_aiohttp(url, host)
    return url.rstrip("/")


def _check_base_url_characters(url: str) -> None:
    # "?" or "#" alone (an empty query or fragment) is refused too: urlsplit reports it as empty.
    if "?" in url:
        msg = "base_url must not carry a query ('?...')"
        raise ConfigurationError(msg)
    if "#" in url:
        msg = "base_url must not carry a fragment ('#...')"
        raise ConfigurationError(msg)
    # Parsers disagree about backslashes and stray whitespace (WHATWG turns "\\" into "/",
    # urllib does not), which is how a URL can name one host to a check and another to the socket.
    if "\\" in url:
        msg = "base_url must not contain a backslash"
        raise ConfigurationError(msg)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        msg = "base_url must not contain whitespace or control characters"
        raise ConfigurationError(msg)
    if not url.isascii():
        # Internationalised names map to different hosts under IDNA 2003 and 2008.
        msg = "base_url must be ASCII (write an internationalised host name in its xn-- form)"
        raise ConfigurationError(msg)


def _check_same_host_for_aiohttp(url: str, host: str) -> None:
    """Refuse a URL that aiohttp (yarl) would send to another host than the one checked here."""
    try:
        seen = URL(url).host or ""
    except (ValueError, TypeError):
        msg = "base_url is not a valid URL"
        raise ConfigurationError(msg) from None
    if seen.strip("[]").lower().rstrip(".") != host.strip("[]").lower().rstrip("."):
        msg = "base_url is ambiguous: URL parsers disagree about its host"
        raise ConfigurationError(msg)


def _environment(value: Environment | str) -> Environment:
    try:
        return Environment(value.lower() if isinstance(value, str) else value)
    except ValueError:
        msg = f"environment must be 'uat' or 'production', got {value!r}"
        raise ConfigurationError(msg) from None


def _non_empty(name: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            msg = f"{name} must be a non-empty string"
            raise ConfigurationError(msg)

    return check


def key_from_env(
    env: Mapping[str, str], name: str, *, private: bool = False, allow_open: bool = False
) -> str:
    """A key given inline as ``name`` or as a file path in ``name_FILE`` (exactly one of them).

    Args:
        env: the environment.
        name: the variable, e.g. ``PAYERMAX_PRIVATE_KEY``.
        private: the key is private: its file must not be readable or writable by group or others
            (checked as ``ssh`` does; not on Windows), unless ``allow_open`` or
            ``PAYERMAX_ALLOW_OPEN_KEY_FILE=1`` in ``env``.
        allow_open: accept a private key file that group or others may read.

    Raises:
        ConfigurationError: neither or both are set, or the file cannot be read as text, is over
            64 KiB, or is a private key file open to group or others (the message names the file
            and its mode, never its content).
    """
    inline = env.get(name, "").strip()
    path = env.get(f"{name}_FILE", "").strip()
    if inline and path:
        msg = f"set either {name} or {name}_FILE, not both"
        raise ConfigurationError(msg)
    if path:
        data = read_key_file(
            path,
            what=f"{name}_FILE",
            private=private,
            allow_open=allow_open or allow_open_key_files(env),
        )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            msg = f"{name}_FILE is not a text key file (PEM or one-line base64)"
            raise ConfigurationError(msg) from None
    if inline:
        return inline
    msg = f"environment variable {name} (or {name}_FILE) is not set"
    raise ConfigurationError(msg)


@attrs.frozen
class PayerMaxConfig:
    """Everything that identifies a merchant to the gateway. Validated eagerly; keys never in ``repr``.

    Args:
        app_id: the appId from the PayerMax dashboard (differs between UAT and production).
        merchant_no: the merchant number.
        merchant_private_key: the merchant's RSA private key (one-line base64 PKCS#8, PEM, DER).
        platform_public_key: PayerMax's public key, or ``{keyVersion: key}`` during a rotation.
        environment: ``"uat"`` (default) or ``"production"``.
        base_url: overrides the environment's gateway prefix (e.g. a local sandbox).
        key_version: the ``keyVersion`` sent in every request.
        api_version: the ``version`` sent in every request.
        key_password: the password of an encrypted private key.

    Raises:
        ConfigurationError: a key does not load, a value is empty, or ``base_url`` is not allowed.
    """

    app_id: str = attrs.field(validator=_non_empty("app_id"))
    merchant_no: str = attrs.field(validator=_non_empty("merchant_no"))
    merchant_private_key: KeyMaterial = attrs.field(repr=False)
    platform_public_key: KeyMaterial | Mapping[str, KeyMaterial] = attrs.field(repr=False)
    environment: Environment = attrs.field(default=Environment.UAT, converter=_environment)
    base_url: str | None = attrs.field(default=None)
    key_version: str = attrs.field(default="1", validator=_non_empty("key_version"))
    api_version: str = attrs.field(default="1.4", validator=_non_empty("api_version"))
    key_password: str | bytes | None = attrs.field(default=None, repr=False)
    # Parsed once here so that a bad key fails at construction, not at the first payout.
    _private_key: rsa.RSAPrivateKey = attrs.field(init=False, repr=False, eq=False)
    _verifier: RsaVerifier = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.base_url is not None:
            object.__setattr__(self, "base_url", check_base_url(self.base_url))
        key = load_private_key(self.merchant_private_key, password=self.key_password)
        object.__setattr__(self, "_private_key", key)
        object.__setattr__(self, "_verifier", RsaVerifier(self.platform_public_key))

    @property
    def gateway_url(self) -> str:
        """The effective gateway prefix: ``base_url`` if set, else the environment's host."""
        return self.base_url if self.base_url is not None else self.environment.base_url

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The loaded merchant private key."""
        return self._private_key

    @property
    def verifier(self) -> RsaVerifier:
        """A verifier for the configured platform public key(s)."""
        return self._verifier

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, allow_open_key_file: bool = False
    ) -> PayerMaxConfig:
        """Build a configuration from ``PAYERMAX_*`` environment variables.

        Reads ``PAYERMAX_APP_ID``, ``PAYERMAX_MERCHANT_NO``, ``PAYERMAX_PRIVATE_KEY`` (or
        ``PAYERMAX_PRIVATE_KEY_FILE``), ``PAYERMAX_PLATFORM_PUBLIC_KEY`` (or
        ``PAYERMAX_PLATFORM_PUBLIC_KEY_FILE``), ``PAYERMAX_ENV`` (``uat``/``production``, default
        ``uat``), ``PAYERMAX_BASE_URL``, ``PAYERMAX_KEY_VERSION``, ``PAYERMAX_KEY_PASSWORD`` and
        ``PAYERMAX_ALLOW_OPEN_KEY_FILE``.

        Args:
            environ: the variables (``os.environ`` by default).
            allow_open_key_file: accept a ``PAYERMAX_PRIVATE_KEY_FILE`` that group or others may
                read or change (also ``PAYERMAX_ALLOW_OPEN_KEY_FILE=1``). By default such a file
                is refused, as ``ssh`` refuses an open private key: ``chmod 600`` it.

        Raises:
            ConfigurationError: a required variable is missing, or a key file cannot be read or is
                a private key file open to group or others.
        """
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                msg = f"environment variable {name} is not set"
                raise ConfigurationError(msg)
            return value

        return cls(
            app_id=required("PAYERMAX_APP_ID"),
            merchant_no=required("PAYERMAX_MERCHANT_NO"),
            merchant_private_key=key_from_env(
                env, "PAYERMAX_PRIVATE_KEY", private=True, allow_open=allow_open_key_file
            ),
            platform_public_key=key_from_env(env, "PAYERMAX_PLATFORM_PUBLIC_KEY"),
            environment=env.get("PAYERMAX_ENV", "").strip() or Environment.UAT,
            base_url=env.get("PAYERMAX_BASE_URL", "").strip() or None,
            key_version=env.get("PAYERMAX_KEY_VERSION", "").strip() or "1",
            key_password=env.get("PAYERMAX_KEY_PASSWORD") or None,
        )
