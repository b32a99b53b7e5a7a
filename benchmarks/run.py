"""Benchmarks: the SDK against hand-written baselines, measured in the same run.

    python benchmarks/run.py                  # everything; a table on stdout, JSON in benchmarks/results/
    python benchmarks/run.py --quick          # small counts, for a smoke run (about half a minute)
    python benchmarks/run.py --only create    # some of: create stores latency memory webhook signer

The sandbox gateway runs in its own process. On Linux with 2+ CPUs it is pinned to the last CPU and
this process to the others, so the two never fight over one core. Rounds alternate which side runs
first, and each round reports two ratios: throughput (SDK ÷ baseline, payouts per second) and CPU
(baseline ÷ SDK, this process's CPU time per payout; 1.0 means the SDK costs nothing extra). The
table shows min / median / max over the rounds. Absolute numbers depend on the machine; ratios much
less so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Gateway, machine, pinned
from benchmarks.memory import bench_memory
from benchmarks.signer import bench_signer
from benchmarks.throughput import bench_create, bench_latency, bench_stores
from benchmarks.webhook import bench_webhook

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ("create", "stores", "latency", "memory", "webhook", "signer")


def _spread(label: str, values: dict[str, float]) -> str:
    return f"{label} {values['min']:.2f} / {values['median']:.2f} / {values['max']:.2f}"


def table(results: list[dict[str, Any]]) -> str:
    """The results as a plain-text table, one line (or a few) per benchmark."""
    lines = []
    for result in results:
        name = result["name"]
        if "cpu_ratio" in result:
            last = result["rounds"]
            ref = sorted(row["reference_per_s"] for row in last)[len(last) // 2]
            sub = sorted(row["subject_per_s"] for row in last)[len(last) // 2]
            ref_cpu = sorted(row["reference_cpu_us"] for row in last)[len(last) // 2]
            sub_cpu = sorted(row["subject_cpu_us"] for row in last)[len(last) // 2]
            lines.append(
                f"{name}\n    {_spread('throughput ratio min/median/max', result['ratio'])}"
                f"   ({sub:.0f}/s vs {ref:.0f}/s)\n"
                f"    {_spread('CPU ratio        min/median/max', result['cpu_ratio'])}"
                f"   ({sub_cpu:.0f} µs vs {ref_cpu:.0f} µs of client CPU per payout)"
            )
        elif "sync_ratio" in result:
            row = result["rounds"][len(result["rounds"]) // 2]
            lines.append(
                f"{name}\n    {_spread('ratio (await verify)     min/median/max', result['ratio'])}"
                f"   ({row['sdk_per_s']:.0f}/s vs {row['raw_per_s']:.0f}/s)\n"
                f"    {_spread('ratio (verify_sync)      min/median/max', result['sync_ratio'])}"
            )
        elif "p50_ms" in result:
            lines.append(
                f"{name}\n    p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"
            )
        elif "heap_bytes_per_payout" in result:
            lines.append(
                f"{name}\n    Python heap {result['heap_bytes_per_payout'] / 1024:.1f} KiB"
                f" (peak {result['heap_peak_bytes_per_payout'] / 1024:.1f} KiB),"
                f" RSS {result['rss_bytes_per_payout'] / 1024:.1f} KiB per payout"
            )
        elif "rows" in result:
            lines.append(name)
            for row in result["rows"]:
                workers = f"{row['workers']} workers" if row["workers"] else "inline"
                lines.append(
                    f"    {row['signer']:<20} {workers:<10} {row['signs_per_s']:8.0f} signs/s"
                    f"   ({row['vs_inline']:.2f}x inline)"
                )
    return "\n".join(lines)


def run(
    only: tuple[str, ...],
    *,
    rounds: int,
    count: int,
    in_flight: int,
    small: int,
    redis_url: str | None,
    postgres_url: str | None = None,
) -> dict[str, Any]:
    """Run the selected benchmarks and return the report (machine and results)."""
    results: list[dict[str, Any]] = []
    notes: dict[str, str] = {}
    if {"create", "stores", "latency"} & set(only):
        gateway = Gateway.start()
        try:
            with pinned(gateway) as how:
                notes["pinning"] = how
                if "create" in only:
                    results.append(asyncio.run(bench_create(gateway, rounds, count)))
                if "stores" in only:
                    results.extend(
                        asyncio.run(bench_stores(gateway, rounds, count, redis_url, postgres_url))
                    )
                if "latency" in only:
                    results.append(asyncio.run(bench_latency(gateway, small)))
        finally:
            gateway.close()
    if "memory" in only:
        holding = Gateway.start(delay=3600.0)
        try:
            results.append(asyncio.run(bench_memory(holding, in_flight)))
        finally:
            holding.close()
    if "webhook" in only:
        results.append(bench_webhook(rounds, small * 10))
    if "signer" in only:
        results.append(asyncio.run(bench_signer(small * 4)))
    return {"machine": machine(), "notes": notes, "results": results}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per ratio (default 7)")
    parser.add_argument("--only", nargs="+", choices=ALL, default=list(ALL))
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PAYERMAX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the RedisStore benchmark ('' to skip it)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "PAYERMAX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL for the PostgresStore benchmark (a schema of its own, dropped after; '' to skip it)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    report = run(
        tuple(args.only),
        rounds=args.rounds or (2 if args.quick else 7),
        count=300 if args.quick else 3000,
        in_flight=1000 if args.quick else 10_000,
        small=50 if args.quick else 500,
        redis_url=args.redis_url or None,
        postgres_url=args.postgres_url or None,
    )
    report["command"] = "python benchmarks/run.py " + " ".join(argv or sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report["results"]))
    print(f"\nmachine: {json.dumps(report['machine'])}\n{json.dumps(report['notes'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
