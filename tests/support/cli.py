"""The ``payermax`` command as a real process, awaited without blocking the test's event loop (an
in-process sandbox keeps serving meanwhile)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[2]


@attrs.frozen
class Ran:
    """What a finished command left: exit status, stdout and stderr."""

    code: int
    out: str
    err: str


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``PAYERMAX_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYERMAX_")}
    env.update(extra or {})
    return env


async def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60.0,
) -> Ran:
    """``python -m payermax_async ARGS``; fails the test if it runs longer than ``timeout``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payermax_async",
        *args,
        cwd=ROOT,
        env=dict(env) if env is not None else clean_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), timeout
        )
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


@contextmanager
def sandbox_process(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], str]]:
    """``python -m payermax_async sandbox --port 0 ARGS`` running: the process, its ``export``
    lines and its banner; stopped with SIGINT (then killed) afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "payermax_async", "sandbox", "--port", "0", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    exports: dict[str, str] = {}
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for _ in range(40):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
            if "PAYERMAX_PLATFORM_PUBLIC_KEY" in exports:
                break
        assert "PAYERMAX_PLATFORM_PUBLIC_KEY" in exports, "".join(lines)
        yield process, exports, "".join(lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
