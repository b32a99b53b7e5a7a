"""The ``payermax`` command: keys, a local sandbox, the demo, and payouts from the shell.

Each subcommand is registered by one small ``_add_*`` function (listed in ``_REGISTRARS``) that adds
its parser and sets ``handler``; a handler takes the parsed arguments and returns the exit status.
Errors print one line on stderr and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from .._version import __version__
from ..errors import PayerMaxError

if TYPE_CHECKING:
    from .._client import PayerMaxClient
    from ..signing.keys import KeyPair

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]

_UPLOAD_HINT = (
    "Upload the PUBLIC key to the PayerMax dashboard (Developer > Key settings); keep the PRIVATE "
    "key secret: it signs your payouts (set it as PAYERMAX_PRIVATE_KEY or PAYERMAX_PRIVATE_KEY_FILE)."
)


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


# ------------------------------------------------------------------------------------------ keys


def _add_keys(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        _out("# Merchant public key (one line, upload this):")
        _out(pair.public_key)
        _out("# Merchant private key (one line, keep secret):")
        _out(pair.private_key)
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
            _out(f"wrote {directory / name}")
    _out(_UPLOAD_HINT)
    return 0


# --------------------------------------------------------------------------------------- sandbox


def _add_sandbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = commands.add_parser("sandbox", help="run a local PayerMax gateway until Ctrl-C")
    sandbox.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    sandbox.add_argument(
        "--merchant-key", type=Path, metavar="FILE", help="merchant private key (default: new)"
    )
    sandbox.add_argument(
        "--platform-key", type=Path, metavar="FILE", help="platform private key (default: new)"
    )
    sandbox.add_argument(
        "--processing-delay", type=float, default=0.5, help="seconds until a payout's outcome"
    )
    sandbox.add_argument(
        "--time-scale", type=float, default=0.001, help="factor on the notification retry schedule"
    )
    sandbox.set_defaults(handler=_sandbox)


def _pair_from_file(path: Path | None) -> KeyPair | None:
    from ..signing.keys import (
        KeyPair,
        load_private_key,
        private_key_to_base64,
        public_key_to_base64,
    )

    if path is None:
        return None
    key = load_private_key(path.read_bytes())
    return KeyPair(
        private_key=private_key_to_base64(key), public_key=public_key_to_base64(key.public_key())
    )


def _sandbox(args: argparse.Namespace) -> int:
    return asyncio.run(_serve_sandbox(args))


async def _serve_sandbox(args: argparse.Namespace) -> int:
    from ..sandbox import SandboxGateway

    gateway = SandboxGateway(
        port=args.port,
        seed=args.seed,
        merchant_keys=_pair_from_file(args.merchant_key),
        platform_keys=_pair_from_file(args.platform_key),
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
        _out("PayerMax sandbox gateway (local, offline) is running. Ctrl-C stops it.")
        _out(f"  base URL             {gateway.base_url}")
        _out(f"  appId                {gateway.app_id}")
        _out(f"  merchantNo           {gateway.merchant_no}")
        # A key the user brought is referred to by its file, never echoed; generated ones are
        # throwaway sandbox keys and are printed so a client can be configured at once.
        if args.merchant_key is not None:
            private_line = f"PAYERMAX_PRIVATE_KEY_FILE={args.merchant_key.resolve()}"
            _out(f"  merchant private key {args.merchant_key} (yours, not shown)")
        else:
            private_line = f"PAYERMAX_PRIVATE_KEY={gateway.merchant_private_key}"
            _out(f"  merchant private key {gateway.merchant_private_key}")
        _out(f"  platform public key  {gateway.platform_public_key}")
        _out("Configure a client with:")
        _out(f"export PAYERMAX_BASE_URL={gateway.base_url}")
        _out(f"export PAYERMAX_APP_ID={gateway.app_id}")
        _out(f"export PAYERMAX_MERCHANT_NO={gateway.merchant_no}")
        _out(f"export {private_line}")
        _out(f"export PAYERMAX_PLATFORM_PUBLIC_KEY={gateway.platform_public_key}")
        sys.stdout.flush()
        await stop.wait()
    _out("sandbox stopped")
    return 0


# ------------------------------------------------------------------------------------------ demo


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="walk the payout flow against the embedded sandbox")
    demo.set_defaults(handler=_demo)


def _demo(_args: argparse.Namespace) -> int:
    from .demo import run_demo

    return asyncio.run(run_demo(sys.stdout))


# --------------------------------------------------------------------------------------- payouts


def _timestamp(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = f"not an ISO 8601 date or time: {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _add_payouts(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payouts = commands.add_parser(
        "payouts", help="create, get and list payouts (configured by PAYERMAX_* variables)"
    )
    actions = payouts.add_subparsers(dest="payouts_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a payout from a JSON file of its data")
    create.add_argument("file", metavar="FILE.json|-", help="the payout's data object; - for stdin")
    get = actions.add_parser("get", help="show one payout")
    get.add_argument("out_trade_no", metavar="OUT_TRADE_NO")
    listing = actions.add_parser("list", help="list payouts created in a time window")
    listing.add_argument("--begin", type=_timestamp, required=True, help="ISO 8601, UTC if naive")
    listing.add_argument("--end", type=_timestamp, required=True, help="ISO 8601, UTC if naive")
    listing.add_argument("--status", choices=["PENDING", "SUCCESS", "FAILED", "BOUNCEBACK"])
    listing.add_argument("--country", metavar="CC", help="two-letter country code")
    for parser, handler in ((create, _create), (get, _get), (listing, _list)):
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.set_defaults(handler=handler)
    from .bulk import register as add_bulk

    add_bulk(actions)


def _client() -> PayerMaxClient:
    from .._client import PayerMaxClient
    from .._config import PayerMaxConfig

    return PayerMaxClient(PayerMaxConfig.from_env())


def _wire(model: object) -> object:
    from ..models.wire import unstructure

    return unstructure(model)


def _print_json(document: object) -> None:
    _out(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def _print_fields(document: object) -> None:
    """Print a wire mapping as ``key  value`` lines (nested keys dotted, empty values left out)."""
    rows = list(_flatten(document, ""))
    width = max((len(key) for key, _ in rows), default=0)
    for key, value in rows:
        _out(f"{key:<{width}}  {value}")


def _flatten(document: object, prefix: str) -> Iterable[tuple[str, str]]:
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _flatten(value, f"{prefix}{key}.")
    elif document not in (None, ""):
        yield prefix.rstrip("."), str(document)


def _read_payout(source: str) -> object:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = f"{'stdin' if source == '-' else source} is not valid JSON: {exc}"
        raise ValueError(msg) from None
    if not isinstance(data, dict):
        msg = "the payout file must hold a JSON object (the request's data)"
        raise ValueError(msg)
    return data


def _create(args: argparse.Namespace) -> int:
    data = _read_payout(args.file)

    async def run() -> object:
        # A resubmitted outTradeNo is answered ORDER_REPEAT by the gateway; the client then queries
        # the order and this prints its current state (nothing is paid twice).
        async with _client() as client:
            return _wire(await client.payouts.create(data))  # type: ignore[arg-type]

    result = asyncio.run(run())
    _print_json(result) if args.json else _print_fields(result)
    return 0


def _get(args: argparse.Namespace) -> int:
    async def run() -> object:
        async with _client() as client:
            return _wire(await client.payouts.retrieve(args.out_trade_no))

    order = asyncio.run(run())
    _print_json(order) if args.json else _print_fields(order)
    return 0


_LIST_COLUMNS = ("transactionUtcTime", "outTradeNo", "status", "trade.amount", "trade.currency")


def _list(args: argparse.Namespace) -> int:
    async def run() -> list[object]:
        async with _client() as client:
            return [
                _wire(order)
                async for order in client.payouts.list(
                    begin=args.begin, end=args.end, status=args.status, country=args.country
                )
            ]

    orders = asyncio.run(run())
    if args.json:
        _print_json(orders)
        return 0
    rows = [
        [dict(_flatten(order, "")).get(column, "") for column in _LIST_COLUMNS] for order in orders
    ]
    headers = ["CREATED (UTC)", "OUT_TRADE_NO", "STATUS", "AMOUNT", "CURRENCY"]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    _out(f"{len(rows)} payout(s)")
    return 0


# --------------------------------------------------------------------------------------- webhook


def _add_webhook(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhook = commands.add_parser("webhook", help="check a payout notification you received")
    actions = webhook.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="verify a saved notification body against its sign header",
        description=(
            "Verify a PayerMax notification body saved to FILE (the raw bytes, exactly as "
            "received) against its sign header, with PayerMax's public key from "
            "PAYERMAX_PLATFORM_PUBLIC_KEY or PAYERMAX_PLATFORM_PUBLIC_KEY_FILE. When "
            "PAYERMAX_MERCHANT_NO / PAYERMAX_APP_ID are set, the notification must be for them."
        ),
    )
    verify.add_argument("--sign", required=True, help="the value of the notification's sign header")
    verify.add_argument("file", metavar="FILE", help="the raw notification body")
    verify.add_argument("--json", action="store_true", help="print the notification as JSON")
    verify.set_defaults(handler=_webhook_verify)


def _platform_key_from_env() -> str:
    from .._config import key_from_env

    return key_from_env(os.environ, "PAYERMAX_PLATFORM_PUBLIC_KEY")


def _webhook_verify(args: argparse.Namespace) -> int:
    from ..webhooks import WebhookVerifier, verify_file

    verifier = WebhookVerifier(
        _platform_key_from_env(),
        merchant_no=os.environ.get("PAYERMAX_MERCHANT_NO") or None,
        app_id=os.environ.get("PAYERMAX_APP_ID") or None,
    )
    notification = verify_file(verifier, args.file, args.sign)
    document = _wire(notification)
    if args.json:
        _print_json(document)
    else:
        _out("signature valid: this notification comes from PayerMax")
        _print_fields(document)
    return 0


# ------------------------------------------------------------------------------------------- main

#: One function per top-level command; a new command is one more entry.
_REGISTRARS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_keys,
    _add_sandbox,
    _add_demo,
    _add_payouts,
    _add_webhook,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``payermax`` argument parser with every registered subcommand."""
    parser = _Parser(
        prog="payermax", description="PayerMax payouts from the shell, and a local sandbox."
    )
    parser.add_argument("--version", action="version", version=f"payermax-async {__version__}")
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    for register in _REGISTRARS:
        register(commands)
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"payermax: error: {message}\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``payermax`` command; return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors: already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``payermax sandbox | head``): stop quietly, like other Unix tools,
        # and point stdout at /dev/null so the interpreter's final flush cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except PayerMaxError as exc:
        return _fail(str(exc) or type(exc).__name__)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}")
    except ValueError as exc:
        return _fail(str(exc))
    except Exception as exc:  # the promise is one line, never a traceback
        return _fail(f"unexpected {type(exc).__name__}: {exc}")
