"""The chat-bot example: a fake chat loop against the sandbox, with real signed notifications."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from examples import bot as bot_example
from examples.bot import FakeChat, WithdrawBot
from payermax_async import PayerMaxClient
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy


class Session:
    """A bot wired to the sandbox and its webhook, with its chat loop running."""

    def __init__(self, bot: WithdrawBot, chat: FakeChat, gateway: SandboxGateway) -> None:
        self.bot = bot
        self.chat = chat
        self.gateway = gateway

    async def say(self, chat_id: int, text: str) -> None:
        """A user message, handled before this returns."""
        await bot_example.converse(self.chat, [(chat_id, text, None)])

    def bot_lines(self, chat_id: int) -> list[str]:
        """What the bot said to one chat."""
        return [text for cid, who, text in self.chat.transcript if cid == chat_id and who == "bot"]


@pytest.fixture
async def session(payermax_sandbox: SandboxGateway) -> AsyncIterator[Session]:
    """A running bot with deterministic withdrawal ids (BOT_T1, BOT_T2, ...)."""
    numbers = itertools.count(1)
    chat = FakeChat()
    async with PayerMaxClient(
        payermax_sandbox.config(), retry=fast_retry_policy(max_attempts=2)
    ) as client:
        bot = WithdrawBot(client, chat.send, new_id=lambda _chat: f"BOT_T{next(numbers)}")
        async with bot_example.webhook_receiver(payermax_sandbox.config(), bot) as url:
            bot.notify_url = url
            loop = asyncio.create_task(chat.run(bot))
            yield Session(bot, chat, payermax_sandbox)
            await chat.inbox.put(None)
            await loop


async def test_transcript_has_the_confirmation_and_the_final_status(session: Session):
    """/withdraw is confirmed with the masked account, /confirm pays, the notification reports SUCCESS."""
    await session.say(42, "/withdraw 50000 DANA 081234567890")
    await session.say(42, "/confirm")
    await session.gateway.settle()
    lines = session.bot_lines(42)
    assert lines[0] == "Withdraw IDR 50,000 to DANA …7890? Reply /confirm or /cancel. (ref BOT_T1)"
    assert lines[1].startswith("Withdrawal BOT_T1 of IDR 50,000 to DANA …7890 accepted: PENDING.")
    assert lines[2] == "Withdrawal BOT_T1: SUCCESS."
    assert "081234567890" not in "\n".join(lines)


async def test_failed_payout_is_reported_with_its_reason(session: Session):
    """The sandbox fails amount 11000; the user hears FAILED with PayerMax's response code."""
    await session.say(7, "/withdraw 11000 OVO 081298765432")
    await session.say(7, "/confirm")
    await session.gateway.settle()
    assert session.bot_lines(7)[-1] == "Withdrawal BOT_T1: FAILED (INVALID_ACCOUNT)."


async def test_double_confirm_pays_once_and_cancel_pays_nothing(session: Session):
    """A second /confirm finds nothing to confirm; a cancelled withdrawal is never sent."""
    await session.say(1, "/withdraw 20000 DANA 081234567890")
    await session.say(1, "/confirm")
    await session.say(1, "/confirm")
    await session.say(2, "/withdraw 30000 GOPAY 081234567891")
    await session.say(2, "/cancel")
    await session.say(2, "/confirm")
    assert session.bot_lines(1)[-1] == "Nothing to confirm."
    assert session.bot_lines(2)[-2:] == ["Cancelled.", "Nothing to confirm."]
    assert list(session.gateway.ledger.orders) == ["BOT_T1"]
    assert session.gateway.ledger.post_count(api="paymentOrderPay") == 1


async def test_payee_refused_by_validation_is_never_offered(session: Session):
    """An account the gateway's field validation refuses is explained, with no confirmation asked."""
    await session.say(3, "/withdraw 25000 DANA 0812-34AB-CD")
    await session.say(3, "/confirm")
    lines = session.bot_lines(3)
    assert lines[0].startswith("That account does not look right: payeeInfo.accountInfo.accountNo")
    assert lines[1] == "Nothing to confirm."
    assert session.gateway.ledger.post_count(api="paymentOrderPay") == 0


async def test_unclear_outcome_is_reported_and_settled_without_a_second_payout(session: Session):
    """Answer lost and queries failing: "could not confirm"; the notification later says SUCCESS."""
    session.gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api="paymentOrderPay", times=1))
    session.gateway.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry"))
    await session.say(5, "/withdraw 40000 DANA 081234567890")
    await session.say(5, "/confirm")
    assert session.bot_lines(5)[-1].startswith("We could not confirm BOT_T1 yet")
    session.gateway.faults.clear()
    await session.gateway.settle()
    assert session.bot_lines(5)[-1] == "Withdrawal BOT_T1: SUCCESS."
    # The notification went through the client's journal (dedupe=store): nothing is left in doubt.
    record = await session.bot.client.store.get("BOT_T1")
    assert record is not None
    assert record.status is not None
    assert record.status.value == "SUCCESS"
    assert await session.bot.client.payouts.reconcile() == []
    assert session.gateway.ledger.post_count(api="paymentOrderPay") == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("/withdraw", "Send: /withdraw"),
        ("/withdraw lots DANA 0812", "'lots' is not an amount"),
        ("/withdraw -5 DANA 0812", "positive"),
        ("/withdraw NaN DANA 0812", "positive"),
        ("/withdraw 100 PAYPAL 0812", "Unknown wallet PAYPAL"),
    ],
)
def test_malformed_commands_are_explained(text: str, reason: str):
    """parse_withdraw refuses malformed commands with a message saying what is wrong."""
    with pytest.raises(ValueError, match=reason):
        bot_example.parse_withdraw(text)


def test_parse_keeps_the_amount_exact():
    """Amounts are Decimal from the text: no float ever touches money."""
    assert bot_example.parse_withdraw("/withdraw 50000.10 dana 0812") == (
        Decimal("50000.10"),
        "DANA",
        "0812",
    )


async def test_main_plays_the_demo_conversation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """``python examples/bot.py`` says it uses the sandbox and prints both final statuses."""
    monkeypatch.delenv("PAYERMAX_APP_ID", raising=False)
    monkeypatch.delenv("PAYERMAX_NOTIFY_URL", raising=False)
    assert await bot_example.main() == 0
    out = capsys.readouterr().out
    assert "embedded SandboxGateway" in out
    assert ": SUCCESS." in out
    assert ": FAILED (INVALID_ACCOUNT)." in out
