"""gc.freeze() after start-up: garbage collections and CPU per payout, with and without it.

An app with many payouts in flight holds many long-lived objects (the journal's records, the client,
every imported module). CPython's full (generation 2) collections walk all of them again and again;
``gc.freeze()`` moves what exists at that moment out of the collector's sight. This measures what
that saves against the embedded sandbox::

    python benchmarks/gc_freeze.py                      # 3 rounds each way, alternating
    python benchmarks/gc_freeze.py --in-flight 20000 --count 5000 --rounds 3

Each run is a fresh process: create ``--in-flight`` payouts (they stay PENDING, held in the
MemoryStore journal), then optionally ``gc.collect(); gc.freeze()``, then time ``--count`` more.
It prints, per 1000 payouts of the second batch: collections of each generation, milliseconds spent
in the collector and CPU milliseconds in all; then how long one full collection takes at the end
(the pause an occasional generation-2 collection causes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import CONCURRENCY, payout

SERVE = Path(__file__).resolve().parent / "instructions.py"


class _Collector:
    """Counts collections per generation and the time spent in them (gc.callbacks)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.counts[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._started


async def _create(client: Any, prefix: str, count: int) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for index in numbers:
            await client.payouts.create(payout(f"{prefix}{index}"))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _run(path: Path, freeze: bool, in_flight: int, count: int) -> dict[str, Any]:
    from benchmarks.instructions import _gateway
    from payermax_async import MemoryStore, PayerMaxClient

    prefix = f"G{uuid.uuid4().hex[:12]}_"
    async with (
        MemoryStore() as journal,
        PayerMaxClient(_gateway(path).config(), store=journal) as client,
    ):
        await _create(client, f"{prefix}warm", in_flight)  # the start-up: payouts in flight
        gc.collect()
        if freeze:
            gc.freeze()
        collector = _Collector()
        gc.callbacks.append(collector)
        cpu = time.process_time()
        await _create(client, prefix, count)
        cpu = time.process_time() - cpu
        gc.callbacks.remove(collector)
        # What one full collection (the pause a generation-2 collection causes) costs now.
        full = time.perf_counter()
        gc.collect()
        full = time.perf_counter() - full
    per_k = 1000 / count
    return {
        "freeze": freeze,
        "collections_per_1000": [round(c * per_k, 1) for c in collector.counts],
        "gc_ms_per_1000": round(sum(collector.seconds) * 1000 * per_k, 2),
        "cpu_ms_per_1000": round(cpu * 1000 * per_k, 1),
        "full_collection_ms": round(full * 1000, 1),
        "tracked_objects": len(gc.get_objects()),
        "frozen_objects": gc.get_freeze_count(),
    }


def _measure(rounds: int, in_flight: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.json"
        server = subprocess.Popen([sys.executable, str(SERVE), "serve", str(path)])
        try:
            for _ in range(600):
                if path.exists() and path.stat().st_size:
                    break
                time.sleep(0.1)
            rows: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
            for round_no in range(rounds):
                for freeze in (False, True) if round_no % 2 == 0 else (True, False):
                    command = [sys.executable, __file__, "run", str(path), str(freeze)]
                    command += [str(in_flight), str(count)]
                    out = subprocess.run(command, check=True, capture_output=True, text=True)
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                    rows[freeze].append(row)
                    print(json.dumps(row))
            for freeze, runs in rows.items():
                summary = {
                    key: statistics.median(run[key] for run in runs)
                    for key in ("gc_ms_per_1000", "cpu_ms_per_1000", "full_collection_ms")
                }
                gen = [
                    statistics.median(run["collections_per_1000"][g] for run in runs)
                    for g in range(3)
                ]
                label = "gc.freeze()" if freeze else "no freeze  "
                print(f"{label}: collections/1000 payouts gen0-2 {gen}, medians {summary}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run")
    run.add_argument("file", type=Path)
    run.add_argument("freeze", choices=["True", "False"])
    run.add_argument("in_flight", type=int)
    run.add_argument("count", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=20000)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    if args.command == "run":
        result = asyncio.run(_run(args.file, args.freeze == "True", args.in_flight, args.count))
        print(json.dumps(result))
    else:
        _measure(args.rounds, args.in_flight, args.count)


if __name__ == "__main__":
    main()
