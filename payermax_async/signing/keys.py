"""Loading RSA keys in every form merchants hold them, and making new pairs in PayerMax's format.

PayerMax hands out and expects keys as one line of base64 without PEM armour: the private key as PKCS#8 DER,
the public key as X.509 SubjectPublicKeyInfo DER. Merchants also keep PEM files (PKCS#8, PKCS#1, encrypted
PKCS#8). Every failure is a :class:`ConfigurationError` that says what is wrong and never echoes the key.
"""

from __future__ import annotations

import base64
import binascii

import attrs
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import ConfigurationError

__all__ = [
    "MIN_RSA_BITS",
    "KeyMaterial",
    "KeyPair",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
]

#: RSA keys shorter than this are refused: PayerMax uses RSA-2048.
MIN_RSA_BITS = 2048

#: What a key may be given as: text (one-line base64 or PEM), bytes (PEM, base64 or raw DER), or an
#: already loaded ``cryptography`` key.
KeyMaterial = str | bytes | rsa.RSAPrivateKey | rsa.RSAPublicKey


def _to_der_or_pem(material: str | bytes, what: str) -> tuple[bytes, bool]:
    """Return ``(data, is_pem)`` for key text or bytes, decoding one-line base64 to DER."""
    raw = material.encode("ascii", "replace") if isinstance(material, str) else bytes(material)
    if raw[:1] == b"\x30" and not isinstance(material, str):
        # Raw DER (an ASN.1 SEQUENCE), taken as is: its last byte may be 0x20 or 0x0a by chance,
        # which strip() would cut off.
        return raw, False
    stripped = raw.strip()
    if not stripped:
        msg = f"{what} is empty"
        raise ConfigurationError(msg)
    if stripped.startswith(b"-----BEGIN"):
        return stripped, True
    compact = b"".join(stripped.split())  # tolerate wrapped base64 lines
    try:
        return base64.b64decode(compact, validate=True), False
    except (binascii.Error, ValueError):
        msg = f"{what} is neither PEM nor base64 DER"
        raise ConfigurationError(msg) from None


def _check_rsa_size(bits: int, what: str) -> None:
    if bits < MIN_RSA_BITS:
        msg = f"{what} is RSA-{bits}; PayerMax requires at least RSA-{MIN_RSA_BITS}"
        raise ConfigurationError(msg)


def load_private_key(
    material: KeyMaterial, *, password: str | bytes | None = None
) -> rsa.RSAPrivateKey:
    """Load an RSA private key from one-line base64 PKCS#8, PEM (PKCS#8, PKCS#1, encrypted) or DER.

    Raises:
        ConfigurationError: the key is garbage, not RSA, shorter than 2048 bits, encrypted without a
            password, or the password is wrong. The message never contains key material.
    """
    what = "merchant private key"
    if isinstance(material, rsa.RSAPrivateKey):
        _check_rsa_size(material.key_size, what)
        return material
    if isinstance(material, rsa.RSAPublicKey):
        msg = f"{what} is a public key; pass the private half"
        raise ConfigurationError(msg)
    if not isinstance(material, str | bytes | bytearray | memoryview):
        msg = f"{what} must be str or bytes, not {type(material).__name__}"
        raise ConfigurationError(msg)
    data, is_pem = _to_der_or_pem(material, what)
    secret = password.encode("utf-8") if isinstance(password, str) else password
    loader = serialization.load_pem_private_key if is_pem else serialization.load_der_private_key
    try:
        key = loader(data, password=secret)
    except TypeError:
        # cryptography raises TypeError for exactly two mistakes: a password missing or superfluous.
        if secret is None:
            msg = f"{what} is encrypted; pass its password as key_password"
        else:
            msg = f"{what} is not encrypted; drop key_password"
        raise ConfigurationError(msg) from None
    except ValueError:
        if secret is not None:
            msg = f"{what} could not be decrypted: wrong key_password, or the key is corrupt"
        else:
            msg = f"{what} could not be parsed as an RSA private key (PKCS#8 or PKCS#1)"
        raise ConfigurationError(msg) from None
    except UnsupportedAlgorithm:
        msg = f"{what} uses an unsupported algorithm"
        raise ConfigurationError(msg) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        msg = f"{what} is a {type(key).__name__.lstrip('_')} key; PayerMax signs with RSA"
        raise ConfigurationError(msg)
    _check_rsa_size(key.key_size, what)
    return key


def load_public_key(
    material: KeyMaterial, *, what: str = "platform public key"
) -> rsa.RSAPublicKey:
    """Load an RSA public key from one-line base64 SPKI DER (PayerMax's format), PEM or DER.

    Raises:
        ConfigurationError: the key is garbage, a private key, not RSA or shorter than 2048 bits.
    """
    if isinstance(material, rsa.RSAPublicKey):
        _check_rsa_size(material.key_size, what)
        return material
    if isinstance(material, rsa.RSAPrivateKey):
        msg = f"{what} is a private key; pass the public half"
        raise ConfigurationError(msg)
    if not isinstance(material, str | bytes | bytearray | memoryview):
        msg = f"{what} must be str or bytes, not {type(material).__name__}"
        raise ConfigurationError(msg)
    data, is_pem = _to_der_or_pem(material, what)
    if is_pem and b"PRIVATE KEY" in data.split(b"\n", 1)[0]:
        msg = f"{what} is a private key; pass the public half"
        raise ConfigurationError(msg)
    loader = serialization.load_pem_public_key if is_pem else serialization.load_der_public_key
    try:
        key = loader(data)
    except (ValueError, UnsupportedAlgorithm):
        msg = f"{what} could not be parsed as an RSA public key (X.509 SubjectPublicKeyInfo)"
        raise ConfigurationError(msg) from None
    if not isinstance(key, rsa.RSAPublicKey):
        msg = f"{what} is a {type(key).__name__.lstrip('_')} key; PayerMax signs with RSA"
        raise ConfigurationError(msg)
    _check_rsa_size(key.key_size, what)
    return key


@attrs.frozen(repr=False)
class KeyPair:
    """An RSA key pair in PayerMax's format: each half one line of base64 DER, no PEM header.

    Upload ``public_key`` to the PayerMax dashboard; keep ``private_key`` secret (it signs payouts).
    """

    private_key: str
    public_key: str

    @property
    def private_key_pem(self) -> str:
        """The private key as a PKCS#8 PEM text."""
        key = load_private_key(self.private_key)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    @property
    def public_key_pem(self) -> str:
        """The public key as an X.509 SubjectPublicKeyInfo PEM text."""
        key = load_public_key(self.public_key, what="public key")
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def __repr__(self) -> str:
        return f"KeyPair(private_key=<hidden>, public_key='...{self.public_key[-8:]}')"


def private_key_to_base64(key: rsa.RSAPrivateKey) -> str:
    """Encode a private key in PayerMax's one-line base64 PKCS#8 DER form."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode("ascii")


def public_key_to_base64(key: rsa.RSAPublicKey) -> str:
    """Encode a public key in PayerMax's one-line base64 SubjectPublicKeyInfo DER form."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def generate_keypair(bits: int = 2048) -> KeyPair:
    """Generate a fresh RSA key pair (2048 bits by default) in PayerMax's one-line base64 format."""
    _check_rsa_size(bits, "generated key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KeyPair(
        private_key=private_key_to_base64(key), public_key=public_key_to_base64(key.public_key())
    )
