"""ProcessPoolSigner: the same signatures as RsaSigner, computed in worker processes."""

from __future__ import annotations

import pytest

from payermax_async import ConfigurationError, KeyPair, RsaSigner, RsaVerifier, Signer
from payermax_async.errors import ClientClosedError
from payermax_async.signing.process import ProcessPoolSigner


async def test_signs_exactly_like_the_inline_signer(merchant_keys: KeyPair) -> None:
    """PKCS#1 v1.5 is deterministic, so a worker's signature equals RsaSigner's for every payload."""
    inline = RsaSigner(merchant_keys.private_key)
    verifier = RsaVerifier(merchant_keys.public_key)
    payloads = [b"", b"{}", "José Ñúñez".encode(), bytes(range(256)) * 8]
    async with ProcessPoolSigner(merchant_keys.private_key, workers=1) as pooled:
        assert isinstance(pooled, Signer)
        for payload in payloads:
            signature = await pooled.sign(payload)
            assert signature == await inline.sign(payload)
            verifier.verify(payload, signature)


def test_bad_key_is_refused_at_construction() -> None:
    """A key that does not load fails in the constructor, before any process starts."""
    with pytest.raises(ConfigurationError):
        ProcessPoolSigner("not a key")
    with pytest.raises(ConfigurationError, match="workers"):
        ProcessPoolSigner("not a key", workers=0)


async def test_closed_signer_refuses_to_sign(merchant_keys: KeyPair) -> None:
    """After aclose() (idempotent), sign() raises a clear ClientClosedError; repr hides the key."""
    pooled = ProcessPoolSigner(merchant_keys.private_key, workers=1)
    await pooled.aclose()
    await pooled.aclose()
    with pytest.raises(ClientClosedError):
        await pooled.sign(b"x")
    assert merchant_keys.private_key[:40] not in repr(pooled)
    assert "closed" in repr(pooled)
