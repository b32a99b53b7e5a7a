"""What identifies one payout: its number and a fingerprint (see :mod:`payermax_async.stores.intent`).

The intent lives with the journal, one layer down, because a store records it too
(``PostgresStore.reserve`` fingerprints a payout inside the merchant's own transaction); this module
keeps the middleware's import path.
"""

from __future__ import annotations

from ..stores.intent import FINGERPRINT_VERSION, PayoutIntent, fingerprint, legacy_fingerprint

__all__ = ["FINGERPRINT_VERSION", "PayoutIntent", "fingerprint", "legacy_fingerprint"]
