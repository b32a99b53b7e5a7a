"""``payermax sandbox``: run a local PayerMax gateway until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ._common import Commands, out
from ._kept_keys import MERCHANT_KEY_FILE, PLATFORM_KEY_FILE, kept_keys

if TYPE_CHECKING:
    from ..signing.keys import KeyPair

__all__ = ["register"]


def register(commands: Commands) -> None:
    """Add ``payermax sandbox``."""
    sandbox = commands.add_parser("sandbox", help="run a local PayerMax gateway until Ctrl-C")
    sandbox.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    sandbox.add_argument(
        "--merchant-key",
        type=Path,
        metavar="FILE",
        help="merchant private key (default: new); mode 0600 (see PAYERMAX_ALLOW_OPEN_KEY_FILE)",
    )
    sandbox.add_argument(
        "--platform-key",
        type=Path,
        metavar="FILE",
        help="platform private key (default: new); mode 0600 like --merchant-key",
    )
    sandbox.add_argument(
        "--keys",
        type=Path,
        metavar="DIR",
        help=(
            "keep the merchant and platform key pairs in DIR across starts: created (0600, "
            "in a 0700 folder) on the first start, reused after"
        ),
    )
    sandbox.add_argument("--quiet", action="store_true", help="do not log each request on stderr")
    sandbox.add_argument(
        "--processing-delay", type=float, default=0.5, help="seconds until a payout's outcome"
    )
    sandbox.add_argument(
        "--time-scale", type=float, default=0.001, help="factor on the notification retry schedule"
    )
    sandbox.set_defaults(handler=_sandbox)


def _pair_from_file(path: Path | None, option: str) -> KeyPair | None:
    from .._files import allow_open_key_files, read_key_file
    from ..signing.keys import (
        KeyPair,
        load_private_key,
        private_key_to_base64,
        public_key_to_base64,
    )

    if path is None:
        return None
    # The same rule as PAYERMAX_PRIVATE_KEY_FILE: an open private key file is refused.
    data = read_key_file(path, what=option, private=True, allow_open=allow_open_key_files())
    key = load_private_key(data)
    return KeyPair(
        private_key=private_key_to_base64(key), public_key=public_key_to_base64(key.public_key())
    )


def _sandbox(args: argparse.Namespace) -> int:
    import logging

    # One line per request on stderr (through the command's log handler), unless --quiet.
    requests = logging.getLogger("payermax_async.sandbox")
    saved = requests.level
    requests.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return asyncio.run(_serve_sandbox(args))
    finally:
        requests.setLevel(saved)


async def _serve_sandbox(args: argparse.Namespace) -> int:
    from ..sandbox import SandboxGateway

    if args.keys is not None:
        if args.merchant_key is not None or args.platform_key is not None:
            msg = "--keys DIR holds both pairs; leave out --merchant-key and --platform-key"
            raise ConfigurationError(msg)
        created = kept_keys(args.keys)
        args.merchant_key = args.keys / MERCHANT_KEY_FILE
        args.platform_key = args.keys / PLATFORM_KEY_FILE
    gateway = SandboxGateway(
        port=args.port,
        seed=args.seed,
        merchant_keys=_pair_from_file(args.merchant_key, "--merchant-key"),
        platform_keys=_pair_from_file(args.platform_key, "--platform-key"),
        processing_delay=args.processing_delay,
        time_scale=args.time_scale,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows, where Ctrl-C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with gateway:
        out("PayerMax sandbox gateway (local, offline) is running. Ctrl-C stops it.")
        out(f"  base URL             {gateway.base_url}")
        out(f"  appId                {gateway.app_id}")
        out(f"  merchantNo           {gateway.merchant_no}")
        # A key the user brought is referred to by its file, never echoed; generated ones are
        # throwaway sandbox keys and are printed so a client can be configured at once.
        if args.merchant_key is not None:
            private_line = f"PAYERMAX_PRIVATE_KEY_FILE={args.merchant_key.resolve()}"
            out(f"  merchant private key {args.merchant_key} (yours, not shown)")
        else:
            private_line = f"PAYERMAX_PRIVATE_KEY={gateway.merchant_private_key}"
            out(f"  merchant private key {gateway.merchant_private_key}")
        out(f"  platform public key  {gateway.platform_public_key}")
        if args.keys is not None:
            what = "created now" if created else "reused; delete them for new ones"
            out(f"  keys kept in         {args.keys.resolve()} ({what})")
        out("Configure a client with:")
        out(f"export PAYERMAX_BASE_URL={gateway.base_url}")
        out(f"export PAYERMAX_APP_ID={gateway.app_id}")
        out(f"export PAYERMAX_MERCHANT_NO={gateway.merchant_no}")
        out(f"export {private_line}")
        out(f"export PAYERMAX_PLATFORM_PUBLIC_KEY={gateway.platform_public_key}")
        sys.stdout.flush()
        await stop.wait()
    out("sandbox stopped")
    return 0
