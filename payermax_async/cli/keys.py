"""``payermax keys``: make RSA key pairs in PayerMax's format."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._common import Commands, out

__all__ = ["register"]

_UPLOAD_HINT = (
    "Upload the PUBLIC key to the PayerMax dashboard (Developer > Key settings); keep the PRIVATE "
    "key secret: it signs your payouts (set it as PAYERMAX_PRIVATE_KEY or PAYERMAX_PRIVATE_KEY_FILE)."
)


def register(commands: Commands) -> None:
    """Add ``payermax keys``."""
    keys = commands.add_parser("keys", help="make RSA key pairs in PayerMax's format")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="generate a merchant RSA-2048 key pair")
    generate.add_argument(
        "--out", type=Path, metavar="DIR", help="write one-line base64 and PEM files into DIR"
    )
    generate.set_defaults(handler=_keys_generate)


def _write_new(path: Path, text: str, *, private: bool) -> None:
    # O_EXCL: never overwrite an existing key; private keys are readable by their owner only.
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


def _keys_generate(args: argparse.Namespace) -> int:
    from ..signing.keys import generate_keypair

    pair = generate_keypair()
    if args.out is None:
        out("# Merchant public key (one line, upload this):")
        out(pair.public_key)
        out("# Merchant private key (one line, keep secret):")
        out(pair.private_key)
    else:
        directory: Path = args.out
        directory.mkdir(parents=True, exist_ok=True)
        files = [
            ("merchant_public_key.txt", pair.public_key, False),
            ("merchant_public_key.pem", pair.public_key_pem, False),
            ("merchant_private_key.txt", pair.private_key, True),
            ("merchant_private_key.pem", pair.private_key_pem, True),
        ]
        existing = [name for name, _, _ in files if (directory / name).exists()]
        if existing:
            msg = f"{directory / existing[0]} already exists; not overwriting a key"
            raise FileExistsError(msg)
        for name, text, private in files:
            _write_new(directory / name, text, private=private)
            out(f"wrote {directory / name}")
    out(_UPLOAD_HINT)
    return 0
