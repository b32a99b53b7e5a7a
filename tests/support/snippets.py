"""The Python blocks of README.md and docs/, and the ways tests/docs runs them as written.

Every ```python block is preceded by one marker line (an HTML comment, invisible on the site and on
GitHub) saying how it is checked:

- ``<!-- run -->``: a whole program (it starts its own sandbox); executed as is.
- ``<!-- run: sandbox-env -->``: a whole program that reads ``PAYERMAX_*`` (``from_env()``); executed
  as is, with those variables naming a sandbox that runs for it.
- ``<!-- run: pytest -->``: a test module; run by pytest in a fresh directory, pytest-asyncio in its
  default strict mode, as a user's suite would run it.
- ``<!-- not run: REASON -->``: compiled only (top-level ``await`` allowed), for the reason given.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from payermax_async.sandbox import SandboxGateway

__all__ = ["ROOT", "RUN_KINDS", "Block", "blocks_in", "pytest_file", "sandbox_env"]

ROOT = Path(__file__).resolve().parents[2]
RUN_KINDS = ("run", "run: sandbox-env", "run: pytest")
_BLOCK = re.compile(r"(?:<!-- (?P<marker>[^\n]*?) -->\n)?```python\n(?P<code>.*?)\n```", re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One ```python block: where it is, its code and its marker (``None`` when unmarked)."""

    where: str
    code: str
    marker: str | None

    @property
    def runs(self) -> bool:
        """Whether the block is executed (not only compiled)."""
        return self.marker in RUN_KINDS

    @property
    def reason(self) -> str | None:
        """Why a ``not run`` block is not run (``None`` for other markers or an empty reason)."""
        if self.marker is None or not self.marker.startswith("not run:"):
            return None
        return self.marker.removeprefix("not run:").strip() or None


def blocks_in(pages: list[Path]) -> list[Block]:
    """Every ```python block of ``pages``, in order."""
    found: list[Block] = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            name = page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name
            where = f"{name}:{line}"
            found.append(Block(where, match.group("code"), match.group("marker")))
    return found


@contextmanager
def sandbox_env() -> Iterator[dict[str, str]]:
    """A sandbox running on its own thread's loop, and the ``PAYERMAX_*`` variables naming it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="snippet-sandbox", daemon=True)
    thread.start()
    gateway = SandboxGateway()
    try:
        asyncio.run_coroutine_threadsafe(gateway.start(), loop).result(timeout=30)
        yield {
            "PAYERMAX_APP_ID": gateway.app_id,
            "PAYERMAX_MERCHANT_NO": gateway.merchant_no,
            "PAYERMAX_PRIVATE_KEY": gateway.merchant_private_key,
            "PAYERMAX_PLATFORM_PUBLIC_KEY": gateway.platform_public_key,
            "PAYERMAX_BASE_URL": gateway.base_url,
        }
    finally:
        asyncio.run_coroutine_threadsafe(gateway.aclose(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def pytest_file(path: Path) -> subprocess.CompletedProcess[str]:
    """Run one test module with pytest in its own directory: no conftest, no config, strict mode."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            # pytest-asyncio's own default, stated so a user-wide config cannot change it.
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(path),
        ],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
