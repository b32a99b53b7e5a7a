"""OpenTelemetry is optional: never imported by the package, a clear error when it is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCK_OTEL = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_package_does_not_import_opentelemetry():
    """With OpenTelemetry installed, `import payermax_async` (and a client) still leave it unloaded."""
    done = run_python(
        """
        import sys
        import payermax_async
        from payermax_async import PayerMaxClient
        import payermax_async.telemetry
        print(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_opentelemetry_the_package_works_and_telemetry_says_which_extra():
    """OpenTelemetry blocked: the package and a client work; Telemetry() raises a
    ConfigurationError naming the otel extra."""
    done = run_python(
        BLOCK_OTEL
        + """
import asyncio
from payermax_async import ConfigurationError, PayerMaxClient, PayerMaxConfig, generate_keypair
from payermax_async.telemetry import Telemetry

async def use_client():
    merchant, platform = generate_keypair(), generate_keypair()
    config = PayerMaxConfig(
        app_id="a", merchant_no="m", merchant_private_key=merchant.private_key,
        platform_public_key=platform.public_key,
    )
    async with PayerMaxClient(config) as client:
        print("client:", client.closed)

asyncio.run(use_client())
try:
    Telemetry()
except ConfigurationError as exc:
    print("refused:", exc)
"""
    )
    assert done.returncode == 0, done.stderr
    assert "client: False" in done.stdout
    assert "refused: OpenTelemetry is not installed" in done.stdout
    assert "pip install 'payermax-async[otel]'" in done.stdout
