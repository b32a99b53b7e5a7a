"""A :class:`~payermax_async.Signer` that signs in worker processes.

One RSA-2048 signature costs about 0.35 ms of CPU, so one event loop signing inline tops out near 2,800
payouts/s on one core. ``ProcessPoolSigner`` moves the signing to a pool of processes so a single loop can
use more cores. It pays off only when signing is the bottleneck and spare cores exist: each signature then
also costs an inter-process hop (tens of microseconds). Measure with ``benchmarks/``.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..errors import ClientClosedError, ConfigurationError
from .keys import KeyMaterial, load_private_key

__all__ = ["ProcessPoolSigner"]

# The key each worker process loads once, in its initializer, and signs with afterwards.
_worker_key: rsa.RSAPrivateKey | None = None


def _init_worker(private_key_der: bytes) -> None:
    global _worker_key  # one key per worker process, loaded once by design
    key = serialization.load_der_private_key(private_key_der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    _worker_key = key


def _sign_in_worker(payload: bytes) -> str:
    assert _worker_key is not None, "worker initializer did not run"
    signature = _worker_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


class ProcessPoolSigner:
    """Signs request bodies in a pool of worker processes (SHA256withRSA, like :class:`RsaSigner`).

    Args:
        private_key: the merchant's RSA private key in any form :class:`RsaSigner` accepts.
        password: the password of an encrypted PEM key.
        workers: how many processes (default: the machine's CPU count).

    The workers are started with the ``spawn`` method (safe beside threads and a running event loop)
    and receive the key once, unencrypted, over the pool's private pipe. Close the signer with
    :meth:`aclose` (or ``async with``) when done.

    Raises:
        ConfigurationError: at construction, if the key does not load or ``workers`` < 1.
    """

    def __init__(
        self,
        private_key: KeyMaterial,
        *,
        password: str | bytes | None = None,
        workers: int | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            msg = "workers must be at least 1"
            raise ConfigurationError(msg)
        key = load_private_key(private_key, password=password)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(der,),
        )
        self._key_size = key.key_size

    async def sign(self, payload: bytes) -> str:
        """Return the base64 SHA256withRSA signature of ``payload``, computed in a worker process."""
        if self._executor is None:
            msg = "ProcessPoolSigner is closed"
            raise ClientClosedError(msg)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _sign_in_worker, bytes(payload))

    async def aclose(self) -> None:
        """Stop the worker processes. Safe to call more than once."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

    async def __aenter__(self) -> ProcessPoolSigner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._executor is None else "open"
        return f"ProcessPoolSigner(<RSA-{self._key_size} private key hidden>, {state})"
