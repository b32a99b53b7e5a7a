"""``ProcessPoolSigner``: RSA signing on other cores. Kept at this documented path; the code lives in
:mod:`payermax_async.signing.process`."""

from __future__ import annotations

from .signing.process import ProcessPoolSigner

__all__ = ["ProcessPoolSigner"]
