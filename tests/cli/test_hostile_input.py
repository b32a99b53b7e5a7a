"""The CLI with hostile or odd files: exact statuses, strict payout JSON, honest sizes."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from payermax_async.cli import main
from payermax_async.sandbox import SandboxGateway
from tests.support.bulk import sandbox_env
from tests.support.sandbox import payout

__all__ = ["sandbox_env"]


async def run(*argv: str) -> int:
    """Run the CLI in a worker thread: it starts its own event loop, the sandbox runs in ours."""
    return await asyncio.to_thread(main, list(argv))


def one_line(err: str) -> str:
    """The single error line of a failed command."""
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


async def test_tables_print_statuses_as_their_values(sandbox_env: SandboxGateway, tmp_path, capsys):
    """create, get and list show PENDING / SUCCESS, never PayoutStatus.PENDING (str() of a str
    enum from Python 3.11 on)."""
    request = tmp_path / "payout.json"
    request.write_text(json.dumps(payout("st_1")))
    assert await run("payouts", "create", str(request)) == 0
    created = capsys.readouterr().out
    assert any(line.split() == ["status", "PENDING"] for line in created.splitlines())
    await sandbox_env.settle()
    assert await run("payouts", "get", "st_1") == 0
    shown = capsys.readouterr().out
    assert any(line.split() == ["status", "SUCCESS"] for line in shown.splitlines())
    now = datetime.now(timezone.utc)
    window = ((now - timedelta(hours=1)).isoformat(), (now + timedelta(minutes=1)).isoformat())
    assert await run("payouts", "list", "--begin", window[0], "--end", window[1]) == 0
    listed = capsys.readouterr().out
    [line] = [line for line in listed.splitlines() if "st_1" in line]
    assert "SUCCESS" in line.split()
    for output in (created, shown, listed):
        assert "PayoutStatus" not in output


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            '{"outTradeNo":"dup_1","country":"ID","trade":{"amount":"110","amount":"150000",'
            '"currency":"IDR"},"payeeInfo":{"paymentMethodType":"WALLET","targetOrg":"DANA",'
            '"accountInfo":{"accountNo":"081234567890"},"name":{"fullName":"Siti Rahayu"}}}',
            "trade.amount",
        ),
        ('{"outTradeNo":"dup_2","outTradeNo":"dup_3"}', "outTradeNo"),
    ],
    ids=["nested", "top-level"],
)
async def test_a_repeated_key_is_refused_naming_it(
    sandbox_env: SandboxGateway, tmp_path, capsys, text: str, field: str
):
    """ "amount":"110","amount":"150000" is not paid with either value: one line naming the key's
    path, nothing sent."""
    request = tmp_path / "payout.json"
    request.write_text(text)
    assert await run("payouts", "create", str(request)) == 1
    err = one_line(capsys.readouterr().err)
    assert f"'{field}' appears more than once" in err
    assert str(request) in err
    assert sandbox_env.ledger.post_count() == 0


async def test_a_deeply_nested_file_gets_a_clear_message(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """100,000 nested arrays: a message about nesting, not "unexpected RecursionError"."""
    request = tmp_path / "deep.json"
    request.write_text('{"outTradeNo":"deep_1","x":' + "[" * 100_000 + "]" * 100_000 + "}")
    assert await run("payouts", "create", str(request)) == 1
    err = one_line(capsys.readouterr().err)
    assert "more than 32 deep" in err
    assert str(request) in err
    assert "Recursion" not in err
    assert sandbox_env.ledger.post_count() == 0


async def test_brackets_inside_strings_do_not_count_as_nesting(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """A remark full of brackets is text, not nesting: the payout goes through."""
    request = tmp_path / "payout.json"
    request.write_text(json.dumps(payout("br_1", remark="[" * 40 + '\\"{' * 40)))
    assert await run("payouts", "create", str(request), "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "PENDING"


async def test_a_file_that_is_not_utf8_is_named(sandbox_env: SandboxGateway, tmp_path, capsys):
    """Latin-1 bytes: one line naming the file and the offset, nothing sent."""
    request = tmp_path / "latin1.json"
    document = json.dumps(payout("l1_1", remark="Ren\xe9"), ensure_ascii=False)
    request.write_bytes(document.encode("latin-1"))
    assert await run("payouts", "create", str(request)) == 1
    err = one_line(capsys.readouterr().err)
    assert str(request) in err
    assert "is not UTF-8" in err
    assert sandbox_env.ledger.post_count() == 0


async def test_an_oversized_payout_file_is_refused_by_size(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """A 5 MB file is refused before it is parsed, naming the file."""
    request = tmp_path / "big.json"
    request.write_text(json.dumps(payout("big_1", remark="x" * 5_000_000)))
    assert await run("payouts", "create", str(request)) == 1
    err = one_line(capsys.readouterr().err)
    assert "larger than 1048576 bytes" in err
    assert sandbox_env.ledger.post_count() == 0


def test_webhook_verify_reports_a_big_files_real_size(tmp_path, monkeypatch, capsys):
    """A 10 MB body file is refused by its real size (not "65537 bytes"), before reading it."""
    from payermax_async import generate_keypair

    body = tmp_path / "notification.json"
    with open(body, "wb") as handle:
        handle.truncate(10 * 1024 * 1024)
    monkeypatch.setenv("PAYERMAX_PLATFORM_PUBLIC_KEY", generate_keypair().public_key)
    monkeypatch.delenv("PAYERMAX_PLATFORM_PUBLIC_KEY_FILE", raising=False)
    assert main(["webhook", "verify", "--sign", "c2ln", str(body)]) == 1
    err = one_line(capsys.readouterr().err)
    assert "10485760 bytes" in err
    assert "65536-byte limit" in err
    assert "65537" not in err
    assert str(body) in err


def test_webhook_verify_names_a_missing_file(tmp_path, monkeypatch, capsys):
    """A file that does not exist: one line naming it."""
    from payermax_async import generate_keypair

    monkeypatch.setenv("PAYERMAX_PLATFORM_PUBLIC_KEY", generate_keypair().public_key)
    monkeypatch.delenv("PAYERMAX_PLATFORM_PUBLIC_KEY_FILE", raising=False)
    missing = tmp_path / "absent.json"
    assert main(["webhook", "verify", "--sign", "c2ln", str(missing)]) == 1
    assert str(missing) in one_line(capsys.readouterr().err)
