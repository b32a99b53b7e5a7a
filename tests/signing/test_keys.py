"""Key loading in every form merchants hold keys, and refusals that never echo key material."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from payermax_async import KeyPair, PayerMaxConfig, RsaSigner, RsaVerifier, generate_keypair
from payermax_async.errors import ConfigurationError
from payermax_async.signing.keys import load_private_key, load_public_key

PASSWORD = b"correct horse battery staple"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key shared by this module's tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _same_private(loaded: rsa.RSAPrivateKey, key: rsa.RSAPrivateKey) -> bool:
    return loaded.private_numbers() == key.private_numbers()


def _wrapped(text: str, width: int = 64) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def _exception_texts(exc: BaseException) -> list[str]:
    """The message, str and repr of an exception and of every exception chained to it."""
    texts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    for _ in range(20):
        if not todo:
            break
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), *map(str, current.args)]
        todo += [current.__cause__, current.__context__]
    return texts


def assert_no_key_material(exc: BaseException, *materials: str | bytes) -> None:
    """No 16-character piece of any key text (or of its base64) appears in ``exc`` or its chain."""
    texts = _exception_texts(exc)
    for material in materials:
        raw = material.encode("latin-1") if isinstance(material, str) else material
        forms = {raw.decode("latin-1"), base64.b64encode(raw).decode("ascii")}
        for form in forms:
            compact = "".join(form.split())
            for source in (form, compact):
                for start in range(0, max(1, len(source) - 15)):
                    piece = source[start : start + 16]
                    if len(piece) < 16 or piece.startswith("-----"):
                        continue
                    for text in texts:
                        assert piece not in text, f"key material leaked into {type(exc).__name__}"


# ------------------------------------------------------------------------------- accepted forms


def test_one_line_base64_pkcs8(rsa_key: rsa.RSAPrivateKey) -> None:
    """PayerMax's own private key format (one-line base64 PKCS#8 DER) loads."""
    text = base64.b64encode(_der(rsa_key)).decode()
    assert _same_private(load_private_key(text), rsa_key)


def test_pem_pkcs8(rsa_key: rsa.RSAPrivateKey) -> None:
    """A PEM PKCS#8 private key loads, as text and as bytes."""
    pem = _pem(rsa_key, serialization.PrivateFormat.PKCS8)
    assert _same_private(load_private_key(pem.decode()), rsa_key)
    assert _same_private(load_private_key(pem), rsa_key)


def test_pem_pkcs1(rsa_key: rsa.RSAPrivateKey) -> None:
    """A PEM PKCS#1 ("BEGIN RSA PRIVATE KEY") private key loads."""
    pem = _pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY")
    assert _same_private(load_private_key(pem), rsa_key)


def test_raw_der_bytes(rsa_key: rsa.RSAPrivateKey) -> None:
    """Raw PKCS#8 DER bytes load as a private key, raw SPKI DER bytes as a public key."""
    assert _same_private(load_private_key(_der(rsa_key)), rsa_key)
    assert load_public_key(_public_der(rsa_key)).public_numbers() == (
        rsa_key.public_key().public_numbers()
    )


def test_raw_der_bytes_ending_in_a_whitespace_byte() -> None:
    """A DER key whose last byte happens to be an ASCII whitespace value (here 0x0c; about one key in
    forty) loads whole: it is never stripped like text."""
    der = (
        Path(__file__).parent.parent / "data" / "rsa2048_der_ends_in_whitespace.der"
    ).read_bytes()
    assert der[-1:].isspace()
    key = load_private_key(der)
    assert (
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        == der
    )


def test_wrapped_base64(rsa_key: rsa.RSAPrivateKey) -> None:
    """Base64 wrapped over several lines (as copied from a dashboard) loads."""
    text = _wrapped(base64.b64encode(_der(rsa_key)).decode())
    assert "\n" in text
    assert _same_private(load_private_key(text), rsa_key)
    public = _wrapped(base64.b64encode(_public_der(rsa_key)).decode(), 76)
    assert load_public_key(public).public_numbers() == rsa_key.public_key().public_numbers()


def test_encrypted_pkcs8_with_the_right_password(rsa_key: rsa.RSAPrivateKey) -> None:
    """An encrypted PKCS#8 PEM loads with its password, given as str or bytes."""
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD),
    )
    assert _same_private(load_private_key(pem, password=PASSWORD), rsa_key)
    assert _same_private(load_private_key(pem, password=PASSWORD.decode()), rsa_key)
    signer = RsaSigner(pem, password=PASSWORD)
    assert signer.sign_sync(b"x")


def test_public_key_as_base64_spki_and_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    """A public key loads from one-line base64 SPKI and from PEM."""
    expected = rsa_key.public_key().public_numbers()
    one_line = base64.b64encode(_public_der(rsa_key)).decode()
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert load_public_key(one_line).public_numbers() == expected
    assert load_public_key(pem).public_numbers() == expected
    assert load_public_key(pem.decode()).public_numbers() == expected


# ------------------------------------------------------------------------------ refused forms


def _encrypted_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD),
    )


def test_encrypted_pkcs8_with_a_wrong_password(rsa_key: rsa.RSAPrivateKey) -> None:
    """A wrong password is a ConfigurationError saying so, with no key material."""
    pem = _encrypted_pem(rsa_key)
    with pytest.raises(ConfigurationError, match="password") as info:
        load_private_key(pem, password=b"wrong password")
    assert_no_key_material(info.value, pem, b"wrong password")


def test_encrypted_pkcs8_without_a_password(rsa_key: rsa.RSAPrivateKey) -> None:
    """An encrypted key without a password asks for key_password, with no key material."""
    pem = _encrypted_pem(rsa_key)
    with pytest.raises(ConfigurationError, match="key_password") as info:
        load_private_key(pem)
    assert_no_key_material(info.value, pem)


def test_password_on_an_unencrypted_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """A password given for a plain key is refused rather than silently ignored."""
    pem = _pem(rsa_key, serialization.PrivateFormat.PKCS8)
    with pytest.raises(ConfigurationError, match="not encrypted") as info:
        load_private_key(pem, password=PASSWORD)
    assert_no_key_material(info.value, pem)


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ed25519_der_b64() -> str:
    der = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def _rsa1024_b64() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (must be refused)
    return base64.b64encode(_der(key)).decode()


BAD_PRIVATE: dict[str, tuple[Callable[[], str | bytes], str]] = {
    "ec": (_ec_pem, "RSA"),
    "ed25519": (_ed25519_der_b64, "RSA"),
    "rsa-1024": (_rsa1024_b64, "2048"),
    "garbage": (lambda: "this is not a key at all, just some words!", "neither PEM nor base64"),
    "base64 garbage": (lambda: base64.b64encode(b"\x30" + b"A" * 300).decode(), "parsed"),
    "empty": (lambda: "   ", "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_PRIVATE))
def test_bad_private_keys_are_refused_without_echo(case: str) -> None:
    """Non-RSA, short, garbage and empty private keys raise ConfigurationError naming the problem."""
    make, expected = BAD_PRIVATE[case]
    material = make()
    with pytest.raises(ConfigurationError, match=expected) as info:
        load_private_key(material)
    assert_no_key_material(info.value, material)
    with pytest.raises(ConfigurationError):
        RsaSigner(material)


def test_bad_public_keys_are_refused_without_echo() -> None:
    """Non-RSA, short and garbage public keys raise ConfigurationError with no key material."""
    ec_public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    short_b64 = base64.b64encode(
        short.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    for material, expected in (
        (ec_public, "RSA"),
        (short_b64, "2048"),
        ("%%%not base64%%%", "base64"),
    ):
        with pytest.raises(ConfigurationError, match=expected) as info:
            RsaVerifier(material)
        assert_no_key_material(info.value, material)


def test_public_key_passed_as_private(rsa_key: rsa.RSAPrivateKey) -> None:
    """A public key where the private one belongs is refused (base64, PEM and loaded object)."""
    one_line = base64.b64encode(_public_der(rsa_key)).decode()
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for material in (one_line, pem):
        with pytest.raises(ConfigurationError, match="private key") as info:
            load_private_key(material)
        assert_no_key_material(info.value, material)
    with pytest.raises(ConfigurationError, match="public key"):
        load_private_key(rsa_key.public_key())


def test_private_key_passed_as_public(rsa_key: rsa.RSAPrivateKey) -> None:
    """A private key where the public one belongs is refused and never echoed."""
    one_line = base64.b64encode(_der(rsa_key)).decode()
    pem = _pem(rsa_key, serialization.PrivateFormat.PKCS8)
    for material in (one_line, pem, pem.decode()):
        with pytest.raises(ConfigurationError) as info:
            RsaVerifier(material)
        assert_no_key_material(info.value, material)
    with pytest.raises(ConfigurationError, match="private key"):
        load_public_key(rsa_key)


def test_config_refuses_a_bad_key_eagerly(platform_keys: KeyPair) -> None:
    """PayerMaxConfig loads its keys at construction and never echoes them."""
    material = _rsa1024_b64()
    with pytest.raises(ConfigurationError, match="2048") as info:
        PayerMaxConfig(
            app_id="a",
            merchant_no="m",
            merchant_private_key=material,
            platform_public_key=platform_keys.public_key,
        )
    assert_no_key_material(info.value, material)


def test_the_leak_check_can_fail() -> None:
    """The no-key-material assertion itself catches a message that quotes a key."""
    material = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDATObX3pruBWXj"
    with pytest.raises(AssertionError):
        assert_no_key_material(ConfigurationError(f"bad key {material[10:40]}"), material)


# ------------------------------------------------------------------------------ new key pairs


def test_generate_keypair_round_trip() -> None:
    """A generated pair is one-line base64; what its private half signs, its public half verifies."""
    pair = generate_keypair()
    assert "\n" not in pair.private_key
    assert "\n" not in pair.public_key
    assert not pair.private_key.startswith("-----")
    signature = RsaSigner(pair.private_key).sign_sync(b"payload")
    RsaVerifier(pair.public_key).verify(b"payload", signature)
    assert load_private_key(pair.private_key).key_size == 2048


def test_keypair_pem_accessors() -> None:
    """The PEM accessors give PKCS#8 and SPKI PEM texts of the same keys."""
    pair = generate_keypair()
    assert pair.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert pair.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    signature = RsaSigner(pair.private_key_pem).sign_sync(b"payload")
    RsaVerifier(pair.public_key_pem).verify(b"payload", signature)
    assert RsaSigner(pair.private_key).sign_sync(b"payload") == signature


def test_keypair_repr_hides_the_private_key() -> None:
    """repr/str of a KeyPair show no part of the private key."""
    pair = generate_keypair()
    for text in (repr(pair), str(pair)):
        assert "hidden" in text
        for start in range(0, len(pair.private_key) - 16, 8):
            assert pair.private_key[start : start + 16] not in text


def test_generate_keypair_refuses_short_keys() -> None:
    """Asking for a key shorter than RSA-2048 is refused."""
    with pytest.raises(ConfigurationError, match="2048"):
        generate_keypair(1024)


def test_signer_repr_hides_the_key(merchant_keys: KeyPair) -> None:
    """repr of an RsaSigner shows the key size, never the key."""
    text = repr(RsaSigner(merchant_keys.private_key))
    assert "2048" in text
    assert merchant_keys.private_key[20:36] not in text
