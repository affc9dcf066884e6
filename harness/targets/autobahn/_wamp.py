"""A side-by-side WAMP router and transport for driving autobahn's ApplicationSession without a network.

The transport serializes every message with the connection's serializer (as a WebSocket transport does),
the router parses it with its own serializer, answers at once (CALL -> RESULT echoing the call, PUBLISH with
acknowledge -> PUBLISHED, SUBSCRIBE -> SUBSCRIBED with one subscription id per topic, as real routers give),
and the answer travels back through both serializers into ``session.onMessage``. The router is the
harness's own code and is thread-safe (one lock), so whatever goes wrong is the session's doing.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

from harness.targets.autobahn._wsconn import run

REALM = "realm1"
SERIALIZERS = ("json", "msgpack", "cbor")


def serializers() -> Any:
    """``autobahn.wamp.serializer``, with txaio on asyncio as in an asyncio application (it needs a framework)."""
    import autobahn.asyncio  # noqa: F401  (selects txaio's asyncio flavour)
    from autobahn.wamp import serializer

    return serializer


def echo(procedure: str, args: Any) -> dict[str, Any]:
    """What the router answers to a CALL: the procedure and arguments it received."""
    return {"procedure": procedure, "args": list(args or ())}


class Router:
    """Answers one session's messages; records every request id it saw, in arrival order."""

    def __init__(self, serializer_id: str) -> None:
        from autobahn.wamp import message, role

        self._message, self._role = message, role
        self.serializer = serializers().SERID_TO_SER[serializer_id]()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._topics: dict[str, int] = {}
        self.request_ids: list[int] = []

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def subscription_id(self, topic: str) -> int:
        with self._lock:
            if topic not in self._topics:
                self._topics[topic] = next(self._ids)
            return self._topics[topic]

    def answer(self, msg: Any) -> list[Any]:
        m = self._message
        request = getattr(msg, "request", None)
        if request is not None:
            with self._lock:
                self.request_ids.append(request)
        if isinstance(msg, m.Hello):
            roles = {"broker": self._role.RoleBrokerFeatures(), "dealer": self._role.RoleDealerFeatures()}
            return [m.Welcome(self._next_id(), roles, realm=msg.realm)]
        if isinstance(msg, m.Call):
            return [m.Result(msg.request, args=[echo(msg.procedure, msg.args)])]
        if isinstance(msg, m.Publish):
            return [m.Published(msg.request, self._next_id())] if msg.acknowledge else []
        if isinstance(msg, m.Subscribe):
            return [m.Subscribed(msg.request, self.subscription_id(msg.topic))]
        raise AssertionError(f"loopback router does not handle {type(msg).__name__}")

    def event(self, topic: str, args: list[Any]) -> Any:
        return self._message.Event(self.subscription_id(topic), self._next_id(), args=args)


class Transport:
    """An autobahn ITransport for one session: serializes out, lets the router answer, serializes back."""

    def __init__(self, serializer_id: str) -> None:
        from autobahn.wamp.types import TransportDetails

        self._serializer = serializers().SERID_TO_SER[serializer_id]()
        self.router = Router(serializer_id)
        self.transport_details = TransportDetails()
        self.session: Any = None
        self._lock = threading.Lock()
        self.sent = 0
        self.received = 0

    def send(self, msg: Any) -> None:
        payload, is_binary = self._serializer.serialize(msg)
        with self._lock:
            self.sent += 1
        for parsed in self.router.serializer.unserialize(payload, is_binary):
            for reply in self.router.answer(parsed):
                self.deliver(reply)

    def deliver(self, msg: Any) -> None:
        """A message from the router to the session, over the wire format."""
        payload, is_binary = self.router.serializer.serialize(msg)
        for parsed in self._serializer.unserialize(payload, is_binary):
            with self._lock:
                self.received += 1
            self.session.onMessage(parsed)

    def isOpen(self) -> bool:
        return self.session is not None

    def close(self) -> None:
        self.session = None

    abort = close


def joined_session(
    serializer_id: str = "json", loop: asyncio.AbstractEventLoop | None = None
) -> tuple[Any, Transport, asyncio.AbstractEventLoop]:
    """An asyncio ApplicationSession joined to the loopback router, on ``loop`` (a new one by default)."""
    from autobahn.asyncio.wamp import ApplicationSession
    from autobahn.wamp.types import ComponentConfig

    loop = loop or asyncio.new_event_loop()
    session = ApplicationSession(ComponentConfig(realm=REALM))
    transport = Transport(serializer_id)
    transport.session = session
    run(loop, lambda: session.onOpen(transport), session.is_attached)
    return session, transport, loop
