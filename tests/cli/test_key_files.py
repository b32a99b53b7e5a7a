"""Private key files through the CLI: written private and whole, read only when private."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from payermax_async import generate_keypair
from payermax_async.cli import main
from payermax_async.sandbox import SandboxGateway
from tests.support.bulk import sandbox_env

__all__ = ["sandbox_env"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and symlinks")

KEY_FILES = (
    "merchant_public_key.txt",
    "merchant_public_key.pem",
    "merchant_private_key.txt",
    "merchant_private_key.pem",
)


def mode(path: Path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_generate_creates_its_folder_0700_and_private_files_0600(tmp_path, capsys):
    """--out into a new folder: the folder is 0700 even under a permissive umask; the private
    files are 0600, the public ones readable."""
    out = tmp_path / "new" / "keys"
    previous = os.umask(0o002)
    try:
        assert main(["keys", "generate", "--out", str(out)]) == 0
    finally:
        os.umask(previous)
    capsys.readouterr()
    assert mode(out) == 0o700
    assert {name: mode(out / name) for name in KEY_FILES} == {
        "merchant_public_key.txt": 0o644,
        "merchant_public_key.pem": 0o644,
        "merchant_private_key.txt": 0o600,
        "merchant_private_key.pem": 0o600,
    }


@pytest.mark.parametrize("planted", KEY_FILES)
def test_a_symlink_at_any_key_path_writes_nothing(tmp_path, capsys, planted):
    """A symlink (dangling or not) at one of the four paths: exit 1 naming it, no key file
    written, the link's target untouched."""
    out = tmp_path / "keys"
    out.mkdir()
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    (out / planted).symlink_to(target)
    (out / "dangling").symlink_to(tmp_path / "nowhere")
    assert main(["keys", "generate", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert planted in err
    assert sorted(p.name for p in out.iterdir()) == sorted([planted, "dangling"])
    assert target.read_text() == "precious\n"


def test_a_dangling_symlink_at_the_private_key_path_leaves_no_partial_set(tmp_path, capsys):
    """The finding's case: a dangling link at the private key's path used to leave the public
    files written and the private ones missing. Now nothing is written and nothing is created
    at the link's target."""
    out = tmp_path / "keys"
    out.mkdir()
    (out / "merchant_private_key.pem").symlink_to(tmp_path / "stolen.pem")
    assert main(["keys", "generate", "--out", str(out)]) == 1
    capsys.readouterr()
    assert [p.name for p in out.iterdir()] == ["merchant_private_key.pem"]
    assert not (tmp_path / "stolen.pem").exists()


def test_a_key_file_that_appears_midway_rolls_the_set_back(tmp_path, capsys, monkeypatch):
    """If a file appears between the check and the write (a race), the files already written are
    removed: never a public half without its private one."""
    from payermax_async.cli import keys

    out = tmp_path / "keys"
    out.mkdir()
    real = keys._write_new

    def racing(path: Path, text: str, *, private: bool) -> None:
        if path.name == "merchant_private_key.txt":
            path.symlink_to(tmp_path / "elsewhere")  # planted after the check
        real(path, text, private=private)

    monkeypatch.setattr(keys, "_write_new", racing)
    assert main(["keys", "generate", "--out", str(out)]) == 1
    capsys.readouterr()
    assert [p.name for p in out.iterdir()] == ["merchant_private_key.txt"]
    assert not (tmp_path / "elsewhere").exists()


@pytest.fixture(scope="module")
def pem() -> str:
    """A private key in PEM."""
    return generate_keypair().private_key_pem


@pytest.mark.parametrize(
    ("option", "open_mode"),
    [("--merchant-key", 0o644), ("--platform-key", 0o640), ("--merchant-key", 0o620)],
)
def test_sandbox_refuses_a_private_key_file_open_to_others(tmp_path, pem, option, open_mode):
    """payermax sandbox --merchant-key/--platform-key with a file group or others may read or
    write: the process exits 1 at once with one line naming the file and its mode, before
    anything listens (a subprocess, so a sandbox that did start cannot hang the test)."""
    key = tmp_path / "key.pem"
    key.write_text(pem)
    key.chmod(open_mode)
    env = {k: v for k, v in os.environ.items() if k != "PAYERMAX_ALLOW_OPEN_KEY_FILE"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "payermax_async", "sandbox", "--port", "0", option, str(key)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the sandbox started with an open private key file")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert str(key) in done.stderr
    assert f"{open_mode:04o}" in done.stderr
    assert "chmod 600" in done.stderr
    assert "BEGIN" not in done.stderr
    assert "sandbox gateway" not in done.stdout


async def test_payouts_refuse_an_open_private_key_file_unless_allowed(
    sandbox_env: SandboxGateway, tmp_path, capsys, monkeypatch
):
    """PAYERMAX_PRIVATE_KEY_FILE at 0644: a command that signs stops with one line naming the file
    and the mode, and sends nothing; PAYERMAX_ALLOW_OPEN_KEY_FILE=1 accepts it (the sandbox then
    answers the signed query)."""
    key = tmp_path / "merchant.pem"
    key.write_text(sandbox_env.merchant_private_key)
    key.chmod(0o644)
    monkeypatch.delenv("PAYERMAX_PRIVATE_KEY")
    monkeypatch.delenv("PAYERMAX_ALLOW_OPEN_KEY_FILE", raising=False)
    monkeypatch.setenv("PAYERMAX_PRIVATE_KEY_FILE", str(key))
    assert await asyncio.to_thread(main, ["payouts", "get", "key_1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "PAYERMAX_PRIVATE_KEY_FILE" in err
    assert str(key) in err
    assert "0644" in err
    assert sandbox_env.ledger.post_count() == 0
    monkeypatch.setenv("PAYERMAX_ALLOW_OPEN_KEY_FILE", "1")
    assert await asyncio.to_thread(main, ["payouts", "get", "key_1"]) == 1
    assert "ORDER_NOT_EXIST" in capsys.readouterr().err
