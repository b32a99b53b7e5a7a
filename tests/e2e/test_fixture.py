"""The ``payermax_sandbox`` pytest fixture that payermax-async installs into every test suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from payermax_async import PayerMaxClient, PayoutStatus
from payermax_async.sandbox import SandboxGateway
from tests.support.sandbox import payout


async def test_fixture_gives_a_running_sandbox(payermax_sandbox):
    """The plugin's fixture is a started SandboxGateway a client can pay through."""
    assert isinstance(payermax_sandbox, SandboxGateway)
    async with PayerMaxClient(payermax_sandbox.config()) as client:
        await client.payouts.create(payout("fixture_1"))
    await payermax_sandbox.settle()
    assert payermax_sandbox.ledger.orders["fixture_1"].status is PayoutStatus.SUCCESS


def test_fixture_works_for_users_in_strict_mode(tmp_path):
    """A user's suite in pytest-asyncio strict mode gets the fixture without any conftest."""
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from payermax_async import PayerMaxClient

            @pytest.mark.asyncio
            async def test_pay(payermax_sandbox):
                async with PayerMaxClient(payermax_sandbox.config()) as client:
                    result = await client.payouts.create({
                        "outTradeNo": "user_1", "country": "ID",
                        "trade": {"amount": "5000", "currency": "IDR"},
                        "payeeInfo": {"paymentMethodType": "WALLET", "targetOrg": "DANA",
                                      "accountInfo": {"accountNo": "0812345678"}},
                    })
                assert result.status == "PENDING"
            """
        )
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "-W",
            "error",
            str(tmp_path / "test_user.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 passed" in completed.stdout


def test_plugin_import_is_cheap():
    """Importing the plugin loads neither the sandbox nor aiohttp's web server."""
    code = (
        "import sys, payermax_async.testing; "
        "print(any(m.startswith(('payermax_async.sandbox', 'aiohttp.web')) for m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert completed.stdout.strip() == "False"
