"""Relay HTTP requests from a loopback port to an app under test: the sandbox's notifications, in-process.

The sandbox delivers signed notifications over real HTTP to a loopback ``notifyUrl``. An app tested
in-process (a FastAPI app driven through ``httpx.ASGITransport``, an aiohttp application) has no such
address, and its ``notifyUrl`` must be known before the app is built. A :class:`WebhookRelay` is a
loopback server that exists first: build the app with ``relay.url_for("/payermax/notify")`` as its
notification URL, then :meth:`~WebhookRelay.attach` the app. Each request is passed on byte for byte
(method, path, query, headers including ``sign``, body) and the app's answer goes back unchanged,
so the sandbox sees exactly what PayerMax would: an ``ACK``, a 401, a 500.

- An ASGI 3 app (FastAPI, Starlette, :func:`payermax_async.webhooks.asgi_app`) is called directly,
  in this event loop; with ``lifespan=True`` the relay also runs its start-up and shut-down.
- An :class:`aiohttp.web.Application` is served on a second loopback port (its start-up and clean-up
  signals run, as in production) and requests are forwarded to it.

The ``payermax_webhook_relay`` pytest fixture gives a started relay, closed after the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType

import aiohttp
from aiohttp import web

from ..errors import ConfigurationError

__all__ = ["ASGIApp", "WebhookRelay"]

#: An ASGI 3 application (FastAPI, Starlette, ``webhooks.asgi_app(...)``, ...).
ASGIApp = Callable[
    [
        MutableMapping[str, object],
        Callable[[], Awaitable[MutableMapping[str, object]]],
        Callable[[MutableMapping[str, object]], Awaitable[None]],
    ],
    Awaitable[None],
]

# Hop-by-hop and framing headers belong to each connection, not to the request being passed on.
_NOT_FORWARDED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_ASGI = {"version": "3.0", "spec_version": "2.3"}


class WebhookRelay:
    """A loopback HTTP server passing every request on to the attached app, and its answer back.

    Use it as ``async with WebhookRelay() as relay:``, or through the ``payermax_webhook_relay``
    fixture. Until an app is attached, it answers 503 (the sandbox retries, as PayerMax would).

    Attributes:
        forwarded: how many requests reached the attached app.
    """

    def __init__(self) -> None:
        self.forwarded = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._asgi: ASGIApp | None = None
        self._lifespan: _Lifespan | None = None
        self._served: web.AppRunner | None = None
        self._served_url = ""
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The relay's origin, ``http://127.0.0.1:<port>`` (known once started)."""
        if self._runner is None:
            msg = "the relay is not started; use 'async with WebhookRelay() as relay'"
            raise ConfigurationError(msg)
        return f"http://127.0.0.1:{self._port}"

    def url_for(self, path: str) -> str:
        """The relay's URL for ``path`` (e.g. the ``notifyUrl`` of your webhook's route)."""
        return self.url + (path if path.startswith("/") else f"/{path}")

    async def start(self) -> None:
        """Start listening on a free 127.0.0.1 port (``async with`` does this)."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def attach(self, app: ASGIApp | web.Application, *, lifespan: bool = False) -> None:
        """Pass requests on to ``app`` from now on (replacing any app attached before).

        Args:
            app: an ASGI 3 callable, or an :class:`aiohttp.web.Application`.
            lifespan: for an ASGI app, run its lifespan start-up now and its shut-down on
                :meth:`detach` (leave it off if your test enters the lifespan itself). An aiohttp
                application's start-up and clean-up always run, because it is served.

        Raises:
            ConfigurationError: the ASGI app's lifespan start-up failed.
        """
        await self.detach()
        if isinstance(app, web.Application):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self._served = runner
            self._served_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            return
        if lifespan:
            self._lifespan = _Lifespan(app)
            await self._lifespan.startup()
        self._asgi = app

    async def detach(self) -> None:
        """Stop passing requests on (answer 503 again); shut the attached app down if it was started."""
        self._asgi = None
        lifespan, self._lifespan = self._lifespan, None
        served, self._served = self._served, None
        if lifespan is not None:
            await lifespan.shutdown()
        if served is not None:
            await served.cleanup()

    async def aclose(self) -> None:
        """Detach the app and stop listening."""
        await self.detach()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> WebhookRelay:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._asgi is not None:
            answer = await self._call_asgi(self._asgi, request, body)
        elif self._served is not None:
            answer = await self._call_served(request, body)
        else:
            return web.Response(status=503, text="no app attached to the relay")
        self.forwarded += 1
        return answer

    async def _call_served(self, request: web.Request, body: bytes) -> web.Response:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        async with self._session.request(
            request.method,
            self._served_url + request.path_qs,
            data=body,
            headers=headers,
            allow_redirects=False,
        ) as answer:
            content = await answer.read()
            passed = {k: v for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED}
            return web.Response(status=answer.status, body=content, headers=passed)

    async def _call_asgi(self, app: ASGIApp, request: web.Request, body: bytes) -> web.Response:
        scope: MutableMapping[str, object] = {
            "type": "http",
            "asgi": dict(_ASGI),
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.raw_path.split("?", 1)[0].encode("latin-1"),
            "query_string": request.query_string.encode("latin-1"),
            "root_path": "",
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.items()
            ],
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", self._port),
        }
        if self._lifespan is not None:
            # Starlette hands the lifespan's state to each request through a copy of it.
            scope["state"] = dict(self._lifespan.state)
        exchange = _Exchange(body)
        try:
            await app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            # A real server answers 500 when the app fails (it never shows the traceback).
            return web.Response(status=500, text=f"the app raised {type(exc).__name__}")
        finally:
            exchange.done.set()
        if not exchange.started:
            return web.Response(status=500, text="the app sent no answer")
        return web.Response(status=exchange.status, body=exchange.body, headers=exchange.headers)


class _Exchange:
    """One ASGI request/response: the body to hand over, the answer to collect."""

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body
        self.done = asyncio.Event()
        self.started = False
        self.status = 500
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def receive(self) -> MutableMapping[str, object]:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.done.wait()  # asked again: the client "disconnects" once the answer is sent
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, object]) -> None:
        if message.get("type") == "http.response.start":
            self.started = True
            self.status = int(str(message.get("status", 500)))
            raw = message.get("headers")
            for name, value in raw if isinstance(raw, list | tuple) else ():
                if name.decode("latin-1").lower() not in _NOT_FORWARDED:
                    self.headers[name.decode("latin-1")] = value.decode("latin-1")
        elif message.get("type") == "http.response.body":
            chunk = message.get("body", b"")
            if isinstance(chunk, bytes | bytearray):
                self.chunks.append(bytes(chunk))
            if not message.get("more_body", False):
                self.done.set()


class _Lifespan:
    """Runs an ASGI app's lifespan protocol: start-up now, shut-down later."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._inbox: asyncio.Queue[MutableMapping[str, object]] = asyncio.Queue()
        self._outbox: asyncio.Queue[MutableMapping[str, object]] = asyncio.Queue()
        self.state: dict[str, object] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope: MutableMapping[str, object] = {"type": "lifespan", "asgi": dict(_ASGI)}
        scope["state"] = self.state
        await self._app(scope, self._inbox.get, self._outbox.put)

    async def _step(self, event: str) -> None:
        assert self._task is not None
        await self._inbox.put({"type": f"lifespan.{event}"})
        answer = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            error = None if self._task.cancelled() else self._task.exception()
            msg = f"the app's lifespan {event} failed: {type(error).__name__ if error else 'ended'}"
            raise ConfigurationError(msg)
        if answer.result().get("type") != f"lifespan.{event}.complete":
            # Starlette sends the whole traceback as the message: its last line says what failed.
            lines = str(answer.result().get("message", "")).strip().splitlines() or [""]
            msg = f"the app's lifespan {event} failed: {lines[-1]}"
            raise ConfigurationError(msg)

    async def startup(self) -> None:
        self._task = asyncio.ensure_future(self._run())
        try:
            await self._step("startup")
        except BaseException:
            await self._finish()
            raise

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        try:
            await self._step("shutdown")
        finally:
            await self._finish()

    async def _finish(self) -> None:
        """Let the lifespan task end (or cancel it), and collect its outcome so none is left unread."""
        assert self._task is not None
        await asyncio.wait({self._task}, timeout=10)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
