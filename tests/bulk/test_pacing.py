"""The rate limit (token bucket, fake clock) and the progress display."""

from __future__ import annotations

import asyncio
import io

import pytest

from payermax_async.bulk.pacing import Progress, TokenBucket
from payermax_async.errors import ConfigurationError
from payermax_async.testing import FakeClock, RecordingSleep


async def test_the_bucket_spaces_starts_at_the_rate():
    """rate=4/s, burst 1: ten acquisitions start 0.25 s apart on the fake clock, the first at once."""
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(4, clock=clock, sleep=RecordingSleep(clock))
    starts = []
    for _ in range(10):
        await bucket.acquire()
        starts.append(clock())
    assert starts == pytest.approx([i * 0.25 for i in range(10)])


async def test_concurrent_waiters_never_exceed_rate_plus_burst():
    """Twenty workers sharing a 10/s bucket with burst 3: in any window of T seconds at most
    3 + 10*T start, and all twenty do start."""
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=RecordingSleep(clock))
    starts: list[float] = []

    async def worker() -> None:
        await bucket.acquire()
        starts.append(clock())

    await asyncio.gather(*(worker() for _ in range(20)))
    assert len(starts) == 20
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            window = starts[j] - first
            assert j - i + 1 <= 3 + 10 * window + 1e-9
    assert starts[-1] == pytest.approx((20 - 3) / 10)


async def test_idle_time_refills_up_to_the_burst_only():
    """After a long pause the bucket holds `burst` tokens, not more."""
    clock = FakeClock(start=0.0)
    sleep = RecordingSleep(clock)
    bucket = TokenBucket(1, burst=2, clock=clock, sleep=sleep)
    clock.advance(100)
    for _ in range(3):
        await bucket.acquire()
    assert sleep.delays == pytest.approx([1.0])


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (True, 1), (1, 0.5)])
def test_bad_settings_are_refused(rate, burst):
    """A rate that is not positive, or a burst under one, is a configuration error."""
    with pytest.raises(ConfigurationError):
        TokenBucket(rate, burst=burst)


def test_progress_on_a_terminal_rewrites_one_line():
    """On a TTY each update redraws the line with a carriage return; finish ends it."""
    stream = io.StringIO()
    clock = FakeClock(start=0.0)
    progress = Progress(stream, 4, tty=True, tty_interval=0.1, clock=clock)
    for done in range(1, 5):
        clock.advance(1)
        progress.update(done, {"PENDING": done})
    progress.finish(4, {"PENDING": 4})
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert text.count("\r") == 5
    assert "payouts 4/4 (100%): 4 PENDING" in text


def test_progress_elsewhere_writes_periodic_lines():
    """Not on a TTY: a line at most every `interval` seconds, plus the final one."""
    stream = io.StringIO()
    clock = FakeClock(start=0.0)
    progress = Progress(stream, 20, tty=False, interval=5.0, clock=clock)
    for done in range(1, 21):
        clock.advance(1.0)
        progress.update(done, {"PENDING": done - done // 10, "REJECTED": done // 10})
    progress.finish(20, {"PENDING": 18, "REJECTED": 2})
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split()[1] for line in lines] == ["1/20", "6/20", "11/20", "16/20", "20/20"]
    assert lines[-1] == "payouts 20/20 (100%): 18 PENDING, 2 REJECTED, 1.0/s"
