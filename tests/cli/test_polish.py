"""CLI polish, each through a real ``payermax`` process: statuses as values, help texts, one-line
connection failures, whole outTradeNo values, logging flags."""

from __future__ import annotations

import json
import re
import socket
from datetime import datetime, timedelta, timezone

from payermax_async.bulk import COLUMNS
from payermax_async.sandbox import SandboxGateway
from tests.support.bulk import ACCOUNT, NAME, env_for, row, write_csv
from tests.support.cli import clean_env, run_cli
from tests.support.sandbox import payout

ENUM_REPR = re.compile(r"\b(PayoutStatus|RecordState|ValidationCode|MismatchKind)\.[A-Z_]+")


async def test_statuses_print_as_their_values_everywhere(gateway: SandboxGateway, tmp_path):
    """create/get/list (tables and JSON), bulk and the journal commands: PENDING, never the enum."""
    env = clean_env(env_for(gateway))
    number = "status_0001_whole_number"
    today = datetime.now(timezone.utc)
    begin, end = (today - timedelta(hours=1)).isoformat(), (today + timedelta(hours=1)).isoformat()
    outputs = [
        await run_cli("payouts", "create", "-", env=env, stdin=json.dumps(payout(number, "10000"))),
        await run_cli("payouts", "get", number, env=env),
        await run_cli("payouts", "get", number, "--json", env=env),
        await run_cli("payouts", "list", "--begin", begin, "--end", end, env=env),
    ]
    source = write_csv(tmp_path / "in.csv", [row("status_b1", "10000"), row("status_b2", "10000")])
    results = tmp_path / "out.csv"
    outputs.append(await run_cli("payouts", "bulk", str(source), "--out", str(results), env=env))
    journal = f"sqlite:///{tmp_path / 'out.csv.journal.sqlite'}"
    outputs.append(
        await run_cli("journal", "list", "--state", "all", "--journal", journal, env=env)
    )
    outputs.append(await run_cli("journal", "show", "status_b1", "--journal", journal, env=env))
    for ran in outputs:
        assert ran.code == 0, ran.err
        text = ran.out + ran.err
        assert not ENUM_REPR.search(text), text
        assert "PENDING" in text, text
    assert number in outputs[0].out  # the operator's own number, whole
    assert "PENDING" in results.read_text()


async def test_help_lists_bulk_and_the_csv_columns():
    """`payouts --help` names bulk; `payouts bulk --help` documents every column, not a module."""
    payouts = await run_cli("payouts", "--help")
    assert payouts.code == 0
    assert re.search(r"^\s+bulk\s+pay every row", payouts.out, re.M), payouts.out
    bulk = await run_cli("payouts", "bulk", "--help")
    assert bulk.code == 0
    assert "payermax_async.bulk" not in bulk.out
    for column, field in COLUMNS.items():
        line = re.search(rf"^\s+{column}\s+(.+)$", bulk.out, re.M)
        assert line, column
        assert field in line.group(1)
    assert re.search(r"^\s+accountNo\s+required;", bulk.out, re.M)
    assert re.search(r"^\s+fullName\s+column required, cell may be empty;", bulk.out, re.M)
    assert re.search(r"^\s+remark\s+optional;", bulk.out, re.M)
    assert "outTradeNo,status,tradeNo,error" in bulk.out


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_connection_failure_is_one_line_naming_the_url(gateway: SandboxGateway):
    """Nothing listens at PAYERMAX_BASE_URL: one line naming the URL, no traceback, exit 1."""
    url = f"http://127.0.0.1:{closed_port()}/aggregate-pay/api/gateway"
    env = clean_env({**env_for(gateway), "PAYERMAX_BASE_URL": url})
    for args, stdin in (
        (("payouts", "get", "conn_0001"), None),
        (("payouts", "create", "-"), json.dumps(payout("conn_0002"))),
        (("payouts", "list", "--begin", "2026-01-01", "--end", "2026-01-02"), None),
    ):
        ran = await run_cli(*args, env=env, stdin=stdin, timeout=30)
        assert ran.code == 1, ran
        assert "Traceback" not in ran.err
        lines = ran.err.strip().splitlines()
        assert len(lines) == 1, ran.err
        assert url in lines[0]
        assert "could not connect" in lines[0]


async def test_log_level_flags_and_environment(gateway: SandboxGateway):
    """PAYERMAX_LOG turns the SDK's logs on (stderr, payee data masked); --log-level wins over
    it; without either only the command's own output appears."""
    env = clean_env(env_for(gateway))
    data = json.dumps(payout("log_0001_whole"))
    quiet = await run_cli("payouts", "create", "-", env=env, stdin=data)
    assert quiet.code == 0, quiet.err
    assert quiet.err == ""
    debug = await run_cli("payouts", "get", "log_0001_whole", env={**env, "PAYERMAX_LOG": "debug"})
    assert debug.code == 0, debug.err
    assert "DEBUG payermax_async: payermax request paymentOrderQry attempt 1" in debug.err
    assert "log_0001_whole" in debug.err
    flagged = await run_cli(
        "--log-level", "DEBUG", "payouts", "create", "-", env=env, stdin=json.dumps(payout("log_2"))
    )
    assert "payermax request paymentOrderPay" in flagged.err
    assert ACCOUNT not in flagged.err
    assert NAME not in flagged.err
    wins = await run_cli(
        "--log-level", "error", "payouts", "get", "log_2", env={**env, "PAYERMAX_LOG": "DEBUG"}
    )
    assert wins.code == 0
    assert wins.err == ""
    verbose = await run_cli("-vv", "payouts", "get", "log_2", env=env)
    assert "DEBUG payermax_async" in verbose.err
    bad = await run_cli("payouts", "get", "log_2", env={**env, "PAYERMAX_LOG": "loud"})
    assert bad.code == 1
    assert bad.err.strip() == (
        "payermax: error: PAYERMAX_LOG: unknown log level 'loud'; "
        "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


async def test_errors_name_the_operators_out_trade_no_whole(gateway: SandboxGateway):
    """A missing payout and a number reused with another amount: the error line names the
    number whole; the payee's account and name stay out of it."""
    env = clean_env(env_for(gateway))
    missing = await run_cli("payouts", "get", "whole_missing_0404", env=env)
    assert missing.code == 1
    assert missing.err.startswith("payermax: error: whole_missing_0404: ORDER_NOT_EXIST")
    number = "whole_reused_0001"
    first = await run_cli("payouts", "create", "-", env=env, stdin=json.dumps(payout(number)))
    assert first.code == 0, first.err
    assert re.search(rf"^outTradeNo\s+{number}$", first.out, re.M)
    other = json.dumps(payout(number, "99000"))
    reused = await run_cli("payouts", "create", "-", env=env, stdin=other)
    assert reused.code == 1
    line = reused.err.strip()
    assert "\n" not in line
    assert number in line, line
    assert "…0001" not in line
    assert ACCOUNT not in line
    assert NAME not in line


async def test_the_demo_explains_its_request_and_order_counts():
    """The resubmission step says what its counts mean instead of bare numbers."""
    demo = await run_cli("demo", timeout=120)
    assert demo.code == 0, demo.err
    assert (
        "at the gateway: 2 pay requests for demo_success_01 (step 2's and this one), 1 order: "
        "the second request was answered ORDER_REPEAT and paid nothing"
    ) in demo.out


async def test_a_malformed_number_is_not_echoed_into_the_error_line(gateway: SandboxGateway):
    """An outTradeNo that breaks the rule (a newline, a payee's account typed into it) is refused
    in one line that does not repeat it."""
    env = clean_env(env_for(gateway))
    for bad in ("x_1\npayermax: error: forged", f"acct {ACCOUNT}"):
        ran = await run_cli("payouts", "create", "-", env=env, stdin=json.dumps(payout(bad)))
        assert ran.code == 1
        assert ran.err.count("\n") == 1, ran.err
        assert "outTradeNo" in ran.err
        assert ACCOUNT not in ran.err
        assert "forged" not in ran.err
    assert gateway.ledger.post_count() == 0
