"""What every benchmark shares: the sandbox in its own process, payout data, CPU pinning, statistics."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from payermax_async import KeyPair, PayerMaxConfig, generate_keypair

CONCURRENCY = 64


def _serve_sandbox(
    merchant: KeyPair,
    platform_keys: KeyPair,
    ready: Any,
    stop: Any,
    delay: float | None,
) -> None:
    """The child process: one SandboxGateway, optionally holding every payout answer for ``delay`` s."""
    from payermax_async.sandbox import SandboxGateway
    from payermax_async.sandbox.faults import Fault, FaultKind

    async def main() -> None:
        # processing_delay: orders stay PENDING for the whole run, so no settle work competes.
        async with SandboxGateway(
            merchant_keys=merchant, platform_keys=platform_keys, processing_delay=3600.0
        ) as gateway:
            if delay is not None:
                gateway.faults.add(Fault(FaultKind.DELAY, api="paymentOrderPay", delay=delay))
            ready.send((gateway.base_url, gateway.app_id, gateway.merchant_no))
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(main())


@dataclass
class Gateway:
    """A sandbox gateway running in a child process, and the credentials to reach it."""

    base_url: str
    app_id: str
    merchant_no: str
    merchant: KeyPair
    platform: KeyPair
    pid: int = 0
    _process: Any = field(repr=False, default=None)
    _stop: Any = field(repr=False, default=None)

    @classmethod
    def start(cls, *, delay: float | None = None) -> Gateway:
        """Start the sandbox process; ``delay`` holds every payout answer back that long."""
        merchant, platform_keys = generate_keypair(), generate_keypair()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        stop = context.Event()
        process = context.Process(
            target=_serve_sandbox,
            args=(merchant, platform_keys, child, stop, delay),
            daemon=True,
        )
        process.start()
        if not parent.poll(60):
            process.kill()
            msg = "sandbox process did not start"
            raise RuntimeError(msg)
        base_url, app_id, merchant_no = parent.recv()
        return cls(
            base_url, app_id, merchant_no, merchant, platform_keys, process.pid, process, stop
        )

    def config(self) -> PayerMaxConfig:
        """The client configuration for this sandbox."""
        return PayerMaxConfig(
            app_id=self.app_id,
            merchant_no=self.merchant_no,
            merchant_private_key=self.merchant.private_key,
            platform_public_key=self.platform.public_key,
            base_url=self.base_url,
        )

    def close(self) -> None:
        """Stop the sandbox process."""
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


def _cpus() -> list[int]:
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter is not None else []


@contextlib.contextmanager
def pinned(gateway: Gateway) -> Iterator[str]:
    """Give the sandbox and this (client) process a core each, where the OS allows it.

    With two cores and both processes free to float, the scheduler puts them on the same core now
    and then, and whichever side is measured at that moment loses. Pinning makes every round see
    the same split. Yields a description of what was done.
    """
    cpus = _cpus()
    setter = getattr(os, "sched_setaffinity", None)
    if setter is None or len(cpus) < 2:
        yield "not pinned (needs Linux and 2+ CPUs)"
        return
    sandbox_cpus, client_cpus = {cpus[-1]}, set(cpus[:-1])
    setter(gateway.pid, sandbox_cpus)
    setter(0, client_cpus)
    try:
        yield f"sandbox on CPU {sorted(sandbox_cpus)}, client on CPU {sorted(client_cpus)}"
    finally:
        setter(0, set(cpus))
        with contextlib.suppress(OSError):
            setter(gateway.pid, set(cpus))


def payout(out_trade_no: str) -> dict[str, Any]:
    """One payout's wire data (PENDING in the sandbox; no notifyUrl, so no webhook traffic)."""
    return {
        "outTradeNo": out_trade_no,
        "country": "ID",
        "trade": {"amount": "150000", "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "0812323233332"},
            "name": {"fullName": "James Kanta"},
        },
    }


@dataclass
class Sample:
    """One measured run: operations per second and this process's CPU seconds per operation."""

    per_s: float
    cpu_us: float


async def measure(
    create: Callable[[str], Awaitable[object]], prefix: str, count: int, concurrency: int
) -> Sample:
    """Run ``count`` creates with ``concurrency`` in flight; wall-clock rate and CPU per create."""
    numbers = iter(range(count))

    async def worker() -> None:
        for index in numbers:
            await create(f"{prefix}_{index}")

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Sample(per_s=count / elapsed, cpu_us=cpu / count * 1e6)


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, median and max of ``values``."""
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def unique(tag: str) -> str:
    """A prefix for outTradeNos no earlier round has used (letters, digits, underscores)."""
    return f"{tag}{os.getpid()}_{time.monotonic_ns()}"


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, if there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Where the numbers came from."""
    import cryptography

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "cryptography": cryptography.__version__,
    }
