"""A chat bot that pays out: "/withdraw 50000 DANA 081234567890", a confirmation, the final status.

Run it (an embedded sandbox gateway starts when ``PAYERMAX_APP_ID`` is not set; the chat is a tiny
fake loop, no chat network is contacted)::

    python examples/bot.py

What it shows:

- the withdrawal id (PayerMax's ``outTradeNo``) is chosen when the user asks, **before** anything is
  sent, and kept through the confirmation: a double "/confirm" or a retry never pays twice;
- the payee is validated with the gateway before the user is asked to confirm;
- the bot answers at once ("accepted, PENDING") and reports the final status when the signed
  notification arrives (``webhooks.aiohttp_handler``);
- an unclear outcome (``PayoutOutcomeUnknown``) is told as such, never retried under a new number.

Adapting it to a real chat library means replacing :class:`FakeChat` with that library's "send a
message" function and calling :meth:`WithdrawBot.handle` from its message handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from aiohttp import web

from payermax_async import (
    IdempotencyConflictError,
    PayerMaxClient,
    PayerMaxConfig,
    PayerMaxError,
    PayoutNotification,
    PayoutOutcomeUnknown,
    ValidationError,
    WebhookVerifier,
    webhooks,
)
from payermax_async.errors import InvalidRequestError
from payermax_async.sandbox import SandboxGateway

#: Wallets the bot knows: the country and currency each pays in.
WALLETS: dict[str, tuple[str, str]] = {
    "DANA": ("ID", "IDR"),
    "OVO": ("ID", "IDR"),
    "GOPAY": ("ID", "IDR"),
    "GCASH": ("PH", "PHP"),
}
HELP = "Send: /withdraw <amount> <wallet> <account>, e.g. /withdraw 50000 DANA 081234567890"
_COMMAND = re.compile(r"/withdraw\s+(\S+)\s+(\S+)\s+(\S+)\s*")
_MAX_MESSAGES = 100_000

#: Sends one message to a chat: ``await send(chat_id, text)``.
Send = Callable[[int, str], Awaitable[None]]


def _last4(text: str) -> str:
    return f"…{text[-4:]}"


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawal a user asked for; its ``withdrawal_id`` is fixed at that moment."""

    withdrawal_id: str
    chat_id: int
    amount: Decimal
    wallet: str
    account_no: str

    @property
    def currency(self) -> str:
        """The wallet's currency."""
        return WALLETS[self.wallet][1]

    def describe(self) -> str:
        """``IDR 50,000 to DANA …7890`` (the account masked)."""
        return f"{self.currency} {self.amount:,} to {self.wallet} {_last4(self.account_no)}"

    def request(self, notify_url: str | None) -> dict[str, object]:
        """The payout's wire ``data``."""
        data: dict[str, object] = {
            "outTradeNo": self.withdrawal_id,
            "country": WALLETS[self.wallet][0],
            "trade": {"amount": str(self.amount), "currency": self.currency},
            "payeeInfo": {
                "paymentMethodType": "WALLET",
                "targetOrg": self.wallet,
                "accountInfo": {"accountNo": self.account_no},
            },
        }
        if notify_url:
            data["notifyUrl"] = notify_url
        return data


def parse_withdraw(text: str) -> tuple[Decimal, str, str]:
    """Parse ``/withdraw <amount> <wallet> <account>``.

    Raises:
        ValueError: the command is malformed (the message says how).
    """
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        raise ValueError(HELP)
    raw_amount, wallet, account = match.groups()
    try:
        amount = Decimal(raw_amount)
    except InvalidOperation:
        msg = f"{raw_amount!r} is not an amount. {HELP}"
        raise ValueError(msg) from None
    if not amount.is_finite() or amount <= 0:
        msg = "The amount must be a positive number."
        raise ValueError(msg)
    wallet = wallet.upper()
    if wallet not in WALLETS:
        msg = f"Unknown wallet {wallet}; I know {', '.join(sorted(WALLETS))}."
        raise ValueError(msg)
    return amount, wallet, account


def new_withdrawal_id(chat_id: int) -> str:
    """A fresh, unique ``outTradeNo`` (letters, digits and ``_`` only)."""
    return f"BOT{abs(chat_id)}_{uuid.uuid4().hex[:16]}"


class WithdrawBot:
    """The command handler: parse, check, confirm, pay, report.

    Args:
        client: the process's one client.
        send: sends a message to a chat.
        notify_url: where PayerMax posts results (this bot's webhook).
        new_id: makes a withdrawal id for a chat (tests pass a deterministic one).
    """

    def __init__(
        self,
        client: PayerMaxClient,
        send: Send,
        *,
        notify_url: str | None = None,
        new_id: Callable[[int], str] = new_withdrawal_id,
    ) -> None:
        self.client = client
        self.send = send
        self.notify_url = notify_url
        self.new_id = new_id
        self.awaiting_confirmation: dict[int, Withdrawal] = {}
        self.paid: dict[str, Withdrawal] = {}

    async def handle(self, chat_id: int, text: str) -> None:
        """Handle one incoming message."""
        command = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
        if command == "/withdraw":
            await self._withdraw(chat_id, text)
        elif command == "/confirm":
            await self._confirm(chat_id)
        elif command == "/cancel":
            dropped = self.awaiting_confirmation.pop(chat_id, None)
            await self.send(chat_id, "Cancelled." if dropped else "Nothing to cancel.")
        else:
            await self.send(chat_id, HELP)

    async def _withdraw(self, chat_id: int, text: str) -> None:
        try:
            amount, wallet, account = parse_withdraw(text)
        except ValueError as exc:
            await self.send(chat_id, str(exc))
            return
        withdrawal = Withdrawal(self.new_id(chat_id), chat_id, amount, wallet, account)
        request = withdrawal.request(self.notify_url)
        try:
            check = await self.client.payouts.validate(
                {"country": request["country"], "payeeInfo": request["payeeInfo"]}
            )
        except PayerMaxError as exc:
            await self.send(
                chat_id, f"I cannot check that account right now ({type(exc).__name__})."
            )
            return
        if not check.ok:
            problems = "; ".join(f"{f.field}: {f.error_msg}" for f in check.failed_fields)
            await self.send(chat_id, f"That account does not look right: {problems}")
            return
        self.awaiting_confirmation[chat_id] = withdrawal
        await self.send(
            chat_id,
            f"Withdraw {withdrawal.describe()}? Reply /confirm or /cancel. "
            f"(ref {withdrawal.withdrawal_id})",
        )

    async def _confirm(self, chat_id: int) -> None:
        withdrawal = self.awaiting_confirmation.pop(chat_id, None)
        if withdrawal is None:
            await self.send(chat_id, "Nothing to confirm.")
            return
        self.paid[withdrawal.withdrawal_id] = withdrawal
        ref = withdrawal.withdrawal_id
        try:
            result = await self.client.payouts.create(withdrawal.request(self.notify_url))
        except PayoutOutcomeUnknown:
            # Maybe paid, maybe not: never pay again under a new reference. The journal keeps it
            # in doubt; reconcile() (or the notification) settles it, and we report then.
            await self.send(
                chat_id, f"We could not confirm {ref} yet; we are checking. Do not send it again."
            )
            return
        except (ValidationError, InvalidRequestError, IdempotencyConflictError) as exc:
            await self.send(chat_id, f"Withdrawal {ref} was refused: {exc}")
            return
        except PayerMaxError:
            await self.send(chat_id, f"Withdrawal {ref} was not sent; please try again later.")
            return
        await self.send(
            chat_id,
            f"Withdrawal {ref} of {withdrawal.describe()} accepted: {result.status.value}. "
            "I will tell you when it completes.",
        )

    async def on_notification(self, notification: PayoutNotification) -> None:
        """The webhook callback: tell the user how their withdrawal ended."""
        order = notification.data
        withdrawal = self.paid.get(order.out_trade_no)
        if withdrawal is None or not order.status.is_final:
            return
        reason = f" ({order.response_code})" if order.response_code else ""
        await self.send(
            withdrawal.chat_id,
            f"Withdrawal {withdrawal.withdrawal_id}: {order.status.value}{reason}.",
        )


class FakeChat:
    """A stand-in for a chat network: an inbox of user messages and a transcript of everything."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        self.transcript: list[tuple[int, str, str]] = []
        self._changed = asyncio.Condition()

    async def send(self, chat_id: int, text: str) -> None:
        """What the bot calls to answer."""
        await self._log(chat_id, "bot", text)

    async def user_says(self, chat_id: int, text: str) -> None:
        """A user types a message."""
        await self._log(chat_id, "user", text)
        await self.inbox.put((chat_id, text))

    async def run(self, bot: WithdrawBot) -> None:
        """The chat loop: hand each message to the bot until ``None`` arrives."""
        for _ in range(_MAX_MESSAGES):
            item = await self.inbox.get()
            if item is None:
                return
            await bot.handle(*item)
            self.inbox.task_done()

    async def wait_for(self, text: str, timeout: float = 10.0) -> None:
        """Wait until the bot has said something containing ``text``."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: any(who == "bot" and text in said for _, who, said in self.transcript)
                ),
                timeout,
            )

    async def _log(self, chat_id: int, who: str, text: str) -> None:
        async with self._changed:
            self.transcript.append((chat_id, who, text))
            self._changed.notify_all()

    def render(self) -> str:
        """The transcript as text."""
        return "\n".join(f"[{chat}] {who:>4}: {text}" for chat, who, text in self.transcript)


@contextlib.asynccontextmanager
async def webhook_receiver(config: PayerMaxConfig, bot: WithdrawBot) -> AsyncIterator[str]:
    """A loopback aiohttp server for the bot's notifications; yields its URL."""
    app = web.Application()
    verifier = WebhookVerifier.from_config(config)
    app.router.add_post(
        "/payermax/notifications",
        webhooks.aiohttp_handler(verifier, bot.on_notification, dedupe=bot.client.store),
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/payermax/notifications"
    finally:
        await runner.cleanup()


async def converse(chat: FakeChat, script: list[tuple[int, str, str | None]]) -> None:
    """Play a conversation: each user message, then (if given) wait for the bot to say a text."""
    for chat_id, text, expect in script:
        await chat.user_says(chat_id, text)
        await chat.inbox.join()
        if expect is not None:
            await chat.wait_for(expect)


DEMO_SCRIPT: list[tuple[int, str, str | None]] = [
    (42, "hello", None),
    (42, "/withdraw 50000 DANA 081234567890", None),
    (42, "/confirm", None),
    (42, "/confirm", None),
    (42, "/withdraw lots DANA 081234567890", None),
    (7, "/withdraw 11000 OVO 081298765432", None),
    (7, "/confirm", None),
    (42, "/withdraw 25000 DANA 0812-34AB-CD", None),
]


async def main() -> int:
    """``python examples/bot.py``: a scripted conversation against the sandbox (or PAYERMAX_*)."""
    async with contextlib.AsyncExitStack() as stack:
        if os.environ.get("PAYERMAX_APP_ID", "").strip():
            print("Using the PayerMax gateway configured by the PAYERMAX_* variables.")
            config = PayerMaxConfig.from_env()
            gateway = None
        else:
            gateway = await stack.enter_async_context(SandboxGateway())
            print(
                f"No PAYERMAX_* variables: using an embedded SandboxGateway at {gateway.base_url}"
            )
            config = gateway.config()
        client = await stack.enter_async_context(PayerMaxClient(config))
        chat = FakeChat()
        bot = WithdrawBot(client, chat.send)
        bot.notify_url = os.environ.get("PAYERMAX_NOTIFY_URL") or await stack.enter_async_context(
            webhook_receiver(config, bot)
        )
        loop = asyncio.create_task(chat.run(bot))
        try:
            await converse(chat, DEMO_SCRIPT)
            # Both confirmed withdrawals end with a notification the bot turns into a message.
            await chat.wait_for(": SUCCESS", timeout=60.0)
            await chat.wait_for(": FAILED", timeout=60.0)
        finally:
            await chat.inbox.put(None)
            await loop
        print(chat.render())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
