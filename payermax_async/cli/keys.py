"""``payermax keys``: make RSA key pairs in PayerMax's format."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from .._files import PRIVATE_FILE_MODE, make_private_dir, open_new_file
from ..errors import ConfigurationError
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
        "--out",
        type=Path,
        metavar="DIR",
        help="write one-line base64 and PEM files into DIR (created 0700 if missing)",
    )
    generate.set_defaults(handler=_keys_generate)


def _write_new(path: Path, text: str, *, private: bool) -> None:
    # O_EXCL | O_NOFOLLOW: never overwrite a key, never write through a symlink; private keys are
    # readable by their owner only.
    fd = open_new_file(path, PRIVATE_FILE_MODE if private else 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


def _write_key_set(directory: Path, files: list[tuple[str, str, bool]]) -> None:
    """All the files or none: a key set with a public half and no private one is worse than none.

    Every path is checked first without following symlinks; if a file still cannot be created (it
    appeared meanwhile), the ones already written are removed again.
    """
    for name, _, _ in files:
        if os.path.lexists(directory / name):
            msg = f"{directory / name} already exists; not overwriting a key (nothing was written)"
            raise ConfigurationError(msg)
    written: list[Path] = []
    try:
        for name, text, private in files:
            _write_new(directory / name, text, private=private)
            written.append(directory / name)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


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
        make_private_dir(directory)  # 0700 when new: it will hold the private key
        files = [
            ("merchant_public_key.txt", pair.public_key, False),
            ("merchant_public_key.pem", pair.public_key_pem, False),
            ("merchant_private_key.txt", pair.private_key, True),
            ("merchant_private_key.pem", pair.private_key_pem, True),
        ]
        _write_key_set(directory, files)
        for name, _, _ in files:
            out(f"wrote {directory / name}")
    out(_UPLOAD_HINT)
    return 0
