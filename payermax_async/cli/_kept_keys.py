"""``payermax sandbox --keys DIR``: the sandbox's two key pairs kept across starts, so that a client
configured once (``PAYERMAX_PRIVATE_KEY_FILE``) keeps working after the sandbox restarts."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .._files import PRIVATE_FILE_MODE, make_private_dir, open_new_file

__all__ = ["MERCHANT_KEY_FILE", "PLATFORM_KEY_FILE", "kept_keys"]

#: The merchant private key (the client signs with it; the sandbox verifies with its public half).
MERCHANT_KEY_FILE = "merchant_private_key.pem"
#: The platform private key (the sandbox signs answers and notifications with it).
PLATFORM_KEY_FILE = "platform_private_key.pem"


def kept_keys(directory: Path) -> bool:
    """Make sure ``directory`` holds both private keys; return whether any was created now.

    A missing folder is created 0700 and a missing key file 0600, never over anything already at
    its path (a symlink included); existing files are left as they are, to be read (and their mode
    checked) like any ``--merchant-key`` file.
    """
    from ..signing.keys import generate_keypair

    make_private_dir(directory)
    created = False
    for name in (MERCHANT_KEY_FILE, PLATFORM_KEY_FILE):
        path = directory / name
        if os.path.lexists(path):
            continue
        pem = generate_keypair().private_key_pem
        fd = open_new_file(path, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(pem if pem.endswith("\n") else pem + "\n")
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        created = True
    return created
