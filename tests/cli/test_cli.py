"""The ``payermax`` command, run in-process with ``main([...])``."""

from __future__ import annotations

import asyncio
import io
import json
import stat

import pytest

from payermax_async import __version__
from payermax_async.cli import main
from payermax_async.signing.keys import load_private_key, load_public_key
from tests.support.sandbox import payout


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_version(capsys):
    """--version prints the package version."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"payermax-async {__version__}"


def test_no_command_prints_help(capsys):
    """Without a command the help goes to stderr and the exit status is 2."""
    assert main([]) == 2
    assert "keys" in capsys.readouterr().err


def test_usage_errors_are_one_line(capsys):
    """An unknown command is one line on stderr and exit status 2."""
    assert main(["pay-everyone"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("payermax: error: argument")


def test_keys_generate_prints_a_pair_and_the_upload_hint(capsys):
    """keys generate prints both halves in one-line base64 and says which to upload."""
    assert main(["keys", "generate"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    public, private = lines[0], lines[1]
    assert load_private_key(private).public_key().public_numbers() == (
        load_public_key(public).public_numbers()
    )
    assert "Upload the PUBLIC key to the PayerMax dashboard" in out


def test_keys_generate_writes_files_and_never_overwrites(tmp_path, capsys):
    """--out writes one-line and PEM files, private ones owner-only, and refuses to overwrite."""
    assert main(["keys", "generate", "--out", str(tmp_path)]) == 0
    one_line = (tmp_path / "merchant_private_key.txt").read_text().strip()
    pem = (tmp_path / "merchant_private_key.pem").read_text()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert load_private_key(one_line).private_numbers() == load_private_key(pem).private_numbers()
    assert stat.S_IMODE((tmp_path / "merchant_private_key.pem").stat().st_mode) == 0o600
    assert load_public_key((tmp_path / "merchant_public_key.pem").read_text())
    capsys.readouterr()
    assert main(["keys", "generate", "--out", str(tmp_path)]) == 1
    assert "already exists" in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "merchant_private_key.txt").read_text().strip() == one_line


def test_payouts_without_configuration_is_one_clear_line(monkeypatch, capsys):
    """Missing PAYERMAX_* variables are reported in one line, exit status 1."""
    for name in ("PAYERMAX_APP_ID", "PAYERMAX_BASE_URL", "PAYERMAX_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["payouts", "get", "x1"]) == 1
    assert "PAYERMAX_APP_ID" in one_error_line(capsys.readouterr().err)


@pytest.fixture
def sandbox_env(gateway, monkeypatch):
    """PAYERMAX_* variables pointing at the running sandbox."""
    values = {
        "PAYERMAX_BASE_URL": gateway.base_url,
        "PAYERMAX_APP_ID": gateway.app_id,
        "PAYERMAX_MERCHANT_NO": gateway.merchant_no,
        "PAYERMAX_PRIVATE_KEY": gateway.merchant_private_key,
        "PAYERMAX_PLATFORM_PUBLIC_KEY": gateway.platform_public_key,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return gateway


async def run(*argv: str) -> int:
    """Run the CLI in a worker thread: it starts its own event loop, the sandbox runs in ours."""
    return await asyncio.to_thread(main, list(argv))


async def test_payouts_create_get_list(sandbox_env, tmp_path, capsys):
    """create from a file, get and list print readable tables of the sandbox's answers."""
    request = tmp_path / "payout.json"
    request.write_text(json.dumps(payout("cli_1")))
    assert await run("payouts", "create", str(request)) == 0
    out = capsys.readouterr().out
    assert "outTradeNo" in out
    assert "PENDING" in out
    await sandbox_env.settle()
    assert await run("payouts", "get", "cli_1") == 0
    out = capsys.readouterr().out
    assert "status" in out
    assert "SUCCESS" in out
    assert "source.fee" in out


async def test_payouts_list_table_and_json(sandbox_env, capsys):
    """list prints a table by default and a JSON array with --json."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    sandbox_env.ledger.add_order(payout("cli_l1"), created_at=now - timedelta(minutes=5))
    begin = (now - timedelta(hours=1)).isoformat()
    end = (now + timedelta(minutes=1)).isoformat()
    assert await run("payouts", "list", "--begin", begin, "--end", end) == 0
    out = capsys.readouterr().out
    assert "OUT_TRADE_NO" in out
    assert "cli_l1" in out
    assert "1 payout(s)" in out
    assert await run("payouts", "list", "--begin", begin, "--end", end, "--json") == 0
    [order] = json.loads(capsys.readouterr().out)
    assert (order["outTradeNo"], order["status"]) == ("cli_l1", "SUCCESS")


async def test_payouts_create_from_stdin_as_json(sandbox_env, monkeypatch, capsys):
    """'-' reads the payout from stdin; --json prints the result as JSON."""
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(payout("cli_stdin"))))
    assert await run("payouts", "create", "-", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["outTradeNo"], result["status"]) == ("cli_stdin", "PENDING")
    assert "cli_stdin" in sandbox_env.ledger.orders


async def test_payout_errors_are_one_line(sandbox_env, tmp_path, capsys):
    """A resubmission shows the existing payout (exit 0); ORDER_NOT_EXIST, bad JSON and a missing
    file each give one line, exit 1."""
    request = tmp_path / "payout.json"
    request.write_text(json.dumps(payout("cli_rep")))
    assert await run("payouts", "create", str(request)) == 0
    first = capsys.readouterr().out
    assert await run("payouts", "create", str(request)) == 0  # ORDER_REPEAT, settled by a query
    assert "cli_rep" in capsys.readouterr().out
    assert "cli_rep" in first
    assert await run("payouts", "get", "cli_nothing") == 1
    assert "ORDER_NOT_EXIST" in one_error_line(capsys.readouterr().err)
    request.write_text("{not json")
    assert await run("payouts", "create", str(request)) == 1
    assert "not valid JSON" in one_error_line(capsys.readouterr().err)
    assert await run("payouts", "create", str(tmp_path / "missing.json")) == 1
    assert "missing.json" in one_error_line(capsys.readouterr().err)
    assert await run("payouts", "list", "--begin", "yesterday", "--end", "now") == 2
    assert "ISO 8601" in one_error_line(capsys.readouterr().err)


def test_demo_runs_every_flow(capsys):
    """The demo exits 0 and shows all four statuses, their notifications and ORDER_REPEAT handled."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for status in ("SUCCESS", "FAILED", "PENDING", "BOUNCEBACK"):
        assert status in out
    assert "Please enter numbers." in out
    assert "-> PASS" in out
    assert "ORDER_REPEAT" in out
    assert "already submitted" in out
    assert "demo_bounce_01   BOUNCEBACK" in out
    assert "081234567890" not in out  # account numbers are masked


def _java_vector_notification() -> tuple[dict, dict]:
    from tests.support.reference import REFERENCE

    vectors = json.loads((REFERENCE / "java-sdk-signature-vectors.json").read_text())
    case = next(c for c in vectors["cases"] if '"notifyType":"PAYOUT"' in c["body"])
    return vectors, case


def test_webhook_verify_accepts_a_notification_signed_by_payermax(tmp_path, monkeypatch, capsys):
    """`payermax webhook verify` accepts the Java-SDK-signed notification and prints its payout."""
    vectors, case = _java_vector_notification()
    body = tmp_path / "notification.json"
    body.write_bytes(case["body"].encode())
    monkeypatch.setenv("PAYERMAX_PLATFORM_PUBLIC_KEY", vectors["public_key_spki_base64"])
    monkeypatch.delenv("PAYERMAX_MERCHANT_NO", raising=False)
    monkeypatch.delenv("PAYERMAX_APP_ID", raising=False)
    assert main(["webhook", "verify", "--sign", case["sign"], str(body)]) == 0
    out = capsys.readouterr().out
    assert "signature valid" in out
    assert "PO20261129000001" in out
    assert main(["webhook", "verify", "--json", "--sign", case["sign"], str(body)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["data"]["status"] == "SUCCESS"
    assert document["notifyType"] == "PAYOUT"


def test_webhook_verify_refuses_a_tampered_or_foreign_body(tmp_path, monkeypatch, capsys):
    """A flipped byte, a foreign merchant or a missing key: one line on stderr, exit 1."""
    vectors, case = _java_vector_notification()
    body = tmp_path / "notification.json"
    body.write_bytes(case["body"].replace("150000", "950000").encode())
    monkeypatch.setenv("PAYERMAX_PLATFORM_PUBLIC_KEY", vectors["public_key_spki_base64"])
    monkeypatch.delenv("PAYERMAX_APP_ID", raising=False)
    assert main(["webhook", "verify", "--sign", case["sign"], str(body)]) == 1
    assert "signature" in one_error_line(capsys.readouterr().err)
    body.write_bytes(case["body"].encode())
    monkeypatch.setenv("PAYERMAX_MERCHANT_NO", "999999999")
    assert main(["webhook", "verify", "--sign", case["sign"], str(body)]) == 1
    assert "merchantNo" in one_error_line(capsys.readouterr().err)
    monkeypatch.delenv("PAYERMAX_PLATFORM_PUBLIC_KEY")
    monkeypatch.delenv("PAYERMAX_PLATFORM_PUBLIC_KEY_FILE", raising=False)
    assert main(["webhook", "verify", "--sign", case["sign"], str(body)]) == 1
    assert "PAYERMAX_PLATFORM_PUBLIC_KEY" in one_error_line(capsys.readouterr().err)
