"""A real slow HTTP client over a raw socket: it sends the headers, then the body a byte at a time.

What a slowloris attacker does to a webhook port. Every loop is bounded; the client stops as soon as
the server answers or hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

import attrs


@attrs.define
class SlowExchange:
    """What the server did: the bytes it sent, whether it closed, how many body bytes went out."""

    answer: bytes = b""
    closed: bool = False
    body_bytes_sent: int = 0

    @property
    def status(self) -> int | None:
        """The HTTP status code of the answer, if one arrived."""
        if not self.answer.startswith(b"HTTP/1.1 "):
            return None
        return int(self.answer[9:12])


def request_head(
    path: str, *, content_length: int | None, headers: dict[str, str] | None = None
) -> bytes:
    """The request line and headers of a POST (chunked when ``content_length`` is None)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if content_length is None:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {content_length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_rest(reader: asyncio.StreamReader, exchange: SlowExchange, wait: float) -> None:
    for _ in range(64):
        try:
            chunk = await asyncio.wait_for(reader.read(65536), wait)
        except asyncio.TimeoutError:
            return
        except ConnectionError:  # a reset: the server closed with our bytes unread
            exchange.closed = True
            return
        if not chunk:
            exchange.closed = True
            return
        exchange.answer += chunk


async def trickle(
    port: int, head: bytes, body: bytes, *, interval: float, wait_after: float = 2.0
) -> SlowExchange:
    """Send ``head``, then ``body`` one byte every ``interval`` seconds until the server answers.

    Returns what came back; reads on for up to ``wait_after`` seconds to see whether the server
    closes the connection.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    exchange = SlowExchange()
    try:
        writer.write(head)
        await writer.drain()
        for index in range(len(body)):
            try:
                writer.write(body[index : index + 1])
                await writer.drain()
            except ConnectionError:
                break
            exchange.body_bytes_sent += 1
            try:
                chunk = await asyncio.wait_for(reader.read(65536), interval)
            except asyncio.TimeoutError:
                continue
            except ConnectionError:
                break
            if not chunk:
                exchange.closed = True
                return exchange
            exchange.answer += chunk
            break
        await _read_rest(reader, exchange, wait_after)
        return exchange
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def abort_mid_body(port: int, head: bytes, partial_body: bytes, *, pause: float) -> None:
    """Send ``head`` and part of the body, wait ``pause`` seconds, then reset the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + partial_body)
    await writer.drain()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(1), pause)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
