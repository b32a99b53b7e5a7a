"""The request pipeline: immutable ``Call``/``Reply`` values, the middleware type, the transport.

``chain`` holds :class:`~.chain.Call`, :class:`~.chain.Reply`, the ``Middleware`` type and
``build_chain``; ``transport`` holds the :class:`~.transport.Transport` protocol and the one class that
does network I/O, :class:`~.transport.AiohttpTransport`.
"""

from __future__ import annotations

from .chain import Call, Handler, Middleware, Reply, Scope, build_chain, scope_of

__all__ = ["Call", "Handler", "Middleware", "Reply", "Scope", "build_chain", "scope_of"]
