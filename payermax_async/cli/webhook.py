"""``payermax webhook``: check a payout notification you received."""

from __future__ import annotations

import argparse
import os
import stat

from ..errors import ValidationError
from ._common import Commands, out, print_fields, print_json, wire

__all__ = ["register"]


def register(commands: Commands) -> None:
    """Add ``payermax webhook``."""
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


def _check_size(path: str, limit: int) -> None:
    """Refuse a file over the body limit by its real size, before reading any of it."""
    status = os.stat(path)  # a missing file: OSError naming it, one line
    if stat.S_ISREG(status.st_mode) and status.st_size > limit:
        msg = (
            f"{path} is {status.st_size} bytes, over the {limit}-byte limit of a notification "
            "body (real ones are 1-3 KiB); not verified"
        )
        raise ValidationError(msg)


def _webhook_verify(args: argparse.Namespace) -> int:
    from ..webhooks import WebhookVerifier, verify_file

    verifier = WebhookVerifier(
        _platform_key_from_env(),
        merchant_no=os.environ.get("PAYERMAX_MERCHANT_NO") or None,
        app_id=os.environ.get("PAYERMAX_APP_ID") or None,
    )
    _check_size(args.file, verifier.max_body_bytes)
    notification = verify_file(verifier, args.file, args.sign)
    document = wire(notification)
    if args.json:
        print_json(document)
    else:
        out("signature valid: this notification comes from PayerMax")
        print_fields(document)
    return 0
