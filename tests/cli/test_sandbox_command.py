"""``payermax sandbox`` as a real process: one log line per request, --quiet, and --keys DIR."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from payermax_async.signing.keys import load_private_key
from tests.support.bulk import ACCOUNT, NAME
from tests.support.cli import ROOT, clean_env, sandbox_process
from tests.support.sandbox import payout


@contextmanager
def sandbox(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], str]]:
    """The sandbox on a free port, its export lines and banner; stopped with SIGINT after."""
    with sandbox_process(*args, cwd=ROOT, env=clean_env()) as running:
        yield running


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payermax_async", *args],
        cwd=ROOT,
        env={**clean_env(), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stop(process: subprocess.Popen[str]) -> str:
    """SIGINT, wait, and return what it wrote on stderr."""
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None
    return process.stderr.read()


def test_each_request_is_one_line_on_stderr():
    """api, outTradeNo and the answer's code, one line each; payee data never."""
    with sandbox() as (process, exports, _):
        created = cli(exports, "payouts", "create", "-", stdin=json.dumps(payout("slog_0001")))
        assert created.returncode == 0, created.stderr
        missing = cli(exports, "payouts", "get", "slog_0404")
        assert missing.returncode == 1
        err = stop(process)
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].endswith(
        "INFO payermax_async.sandbox: paymentOrderPay outTradeNo=slog_0001 -> APPLY_SUCCESS"
    )
    assert lines[1].endswith("paymentOrderQry outTradeNo=slog_0404 -> ORDER_NOT_EXIST")
    assert ACCOUNT not in err
    assert NAME not in err


def test_quiet_logs_nothing():
    """--quiet: requests are served, stderr stays empty."""
    with sandbox("--quiet") as (process, exports, _):
        assert (
            cli(exports, "payouts", "create", "-", stdin=json.dumps(payout("q_1"))).returncode == 0
        )
        assert stop(process) == ""


def test_keys_dir_is_created_private_and_reused(tmp_path: Path):
    """First start creates both keys 0600 in a 0700 folder and says where; the second start reuses
    them: a client configured from the first start's exports works against the second."""
    keys = tmp_path / "sandbox-keys"
    with sandbox("--keys", str(keys)) as (process, first, banner):
        stop(process)
    assert f"keys kept in         {keys.resolve()} (created now)" in banner
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    files = sorted(p.name for p in keys.iterdir())
    assert files == ["merchant_private_key.pem", "platform_private_key.pem"]
    for name in files:
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    contents = {name: (keys / name).read_text() for name in files}
    for text in contents.values():
        load_private_key(text)  # real keys
    assert "PAYERMAX_PRIVATE_KEY" not in first  # referred to by its file, never echoed
    assert first["PAYERMAX_PRIVATE_KEY_FILE"] == str((keys / "merchant_private_key.pem").resolve())
    assert contents["merchant_private_key.pem"] not in banner
    with sandbox("--keys", str(keys)) as (process, second, banner):
        assert "(reused; delete them for new ones)" in banner
        assert second["PAYERMAX_PLATFORM_PUBLIC_KEY"] == first["PAYERMAX_PLATFORM_PUBLIC_KEY"]
        # The first start's settings, only the port changed: the kept keys sign and verify.
        env = {**first, "PAYERMAX_BASE_URL": second["PAYERMAX_BASE_URL"]}
        created = cli(env, "payouts", "create", "-", stdin=json.dumps(payout("kept_1")))
        assert created.returncode == 0, created.stderr
        stop(process)
    assert {name: (keys / name).read_text() for name in files} == contents
    assert os.path.isdir(keys)


def test_keys_dir_with_an_open_key_file_is_refused(tmp_path: Path):
    """A kept key that others can read is refused like any --merchant-key file."""
    keys = tmp_path / "k"
    with sandbox("--keys", str(keys)) as (process, _, _):
        stop(process)
    (keys / "platform_private_key.pem").chmod(0o644)
    ran = subprocess.run(
        [sys.executable, "-m", "payermax_async", "sandbox", "--port", "0", "--keys", str(keys)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ran.returncode == 1
    assert ran.stderr.count("\n") == 1
    assert "platform_private_key.pem" in ran.stderr
