"""The console entry points as real processes: a standalone sandbox and a payout against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from payermax_async import generate_keypair
from tests.support.cli import sandbox_process
from tests.support.sandbox import payout


@pytest.fixture
def sandbox_args():
    """Extra arguments for the standalone sandbox (tests override it)."""
    return []


@pytest.fixture
def standalone_sandbox(sandbox_args):
    """``python -m payermax_async sandbox --port 0`` running, with its printed export lines."""
    with sandbox_process(*sandbox_args) as running:
        yield running


def test_sandbox_process_serves_the_cli_and_stops_on_ctrl_c(standalone_sandbox):
    """The banner has what a client needs; a payout through it works; Ctrl-C exits cleanly."""
    process, exports, banner = standalone_sandbox
    assert exports["PAYERMAX_BASE_URL"].startswith("http://127.0.0.1:")
    assert exports["PAYERMAX_BASE_URL"].endswith("/aggregate-pay/api/gateway")
    assert "merchant private key" in banner
    assert "platform public key" in banner
    env = {**os.environ, **exports}
    created = subprocess.run(
        [sys.executable, "-m", "payermax_async", "payouts", "create", "-", "--json"],
        input=json.dumps(payout("proc_1")),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["status"] == "PENDING"
    missing = subprocess.run(
        [sys.executable, "-m", "payermax_async", "payouts", "get", "proc_404"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert process.stdout is not None
    assert "sandbox stopped" in process.stdout.read()


@pytest.fixture(scope="module")
def own_keys():
    """The user's own merchant key pair."""
    return generate_keypair()


class TestOwnMerchantKey:
    """``payermax sandbox --merchant-key FILE``."""

    @pytest.fixture
    def key_file(self, tmp_path, own_keys):
        """The user's merchant private key in a PEM file."""
        path = tmp_path / "merchant.pem"
        path.write_text(own_keys.private_key_pem)
        path.chmod(0o600)  # an open private key file is refused
        return path

    @pytest.fixture
    def sandbox_args(self, key_file):
        """Start the sandbox with the user's key."""
        return ["--merchant-key", str(key_file)]

    def test_the_key_is_used_but_never_printed(self, standalone_sandbox, key_file, own_keys):
        """The banner refers to the file and never echoes the private key; the key signs requests."""
        _, exports, banner = standalone_sandbox
        assert own_keys.private_key not in banner
        assert exports["PAYERMAX_PRIVATE_KEY_FILE"] == str(key_file.resolve())
        env = {**os.environ, **exports}
        env.pop("PAYERMAX_PRIVATE_KEY", None)
        missing = subprocess.run(
            [sys.executable, "-m", "payermax_async", "payouts", "get", "own_1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert "ORDER_NOT_EXIST" in missing.stderr  # signed with the file's key and accepted
