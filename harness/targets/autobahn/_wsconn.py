"""In-memory WebSocket connections between autobahn's asyncio client and server protocols (no sockets).

Each :class:`Pair` has its own event loop and does the real opening handshake through the protocols' asyncio
entry points (``connection_made``, ``data_received``), so every message afterwards runs the same code as in
an asyncio application. Actions run inside the pair's loop (as protocol callbacks do), where txaio and
asyncio find that loop. A pair's loop is only ever run by one thread at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

URL = "ws://127.0.0.1:9000/ws"
_LOOP_PASSES = 20
_PEER = ("127.0.0.1", 40000)


class MemoryTransport:
    """An asyncio transport that keeps what is written (the protocol under test is its only writer)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def take(self) -> bytes:
        data, self.written = b"".join(self.written), []
        return data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return _PEER if name == "peername" else default

    def close(self) -> None:
        self.closed = True

    abort = close

    def is_closing(self) -> bool:
        return self.closed


def run(loop: asyncio.AbstractEventLoop, action: Callable[[], Any], until: Callable[[], object] | None = None) -> Any:
    """Call ``action()`` inside ``loop``, then let the loop work until ``until()`` holds (bounded)."""

    async def drive() -> Any:
        result = action()
        for _ in range(_LOOP_PASSES):
            if until is None or until():
                return result
            await asyncio.sleep(0)
        raise AssertionError(f"condition not reached after {_LOOP_PASSES} event loop passes")

    return loop.run_until_complete(drive())


def protocol_classes() -> tuple[type, type]:
    """autobahn asyncio server and client protocols that record the messages they receive."""
    from autobahn.asyncio.websocket import WebSocketClientProtocol, WebSocketServerProtocol

    class Recording:
        def onOpen(self) -> None:
            self.received: list[tuple[bool, bytes]] = []

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.received.append((isBinary, payload))

    class Server(Recording, WebSocketServerProtocol):
        pass

    class Client(Recording, WebSocketClientProtocol):
        pass

    return Server, Client


def factories(loop: asyncio.AbstractEventLoop) -> tuple[Any, Any]:
    """A server and a client factory bound to ``loop``, making recording protocols."""
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketServerFactory

    server_cls, client_cls = protocol_classes()
    server_factory = WebSocketServerFactory(URL, loop=loop)
    server_factory.protocol = server_cls
    client_factory = WebSocketClientFactory(URL, loop=loop)
    client_factory.protocol = client_cls
    return server_factory, client_factory


class Pair:
    """A client and a server protocol connected in memory with the opening handshake done."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server_factory, self.client_factory = factories(self.loop)
        self.server, self.client = self.server_factory(), self.client_factory()
        self.server_transport, self.client_transport = MemoryTransport(), MemoryTransport()
        run(self.loop, self._connect, lambda: self.client.state == self.client.STATE_OPEN)
        if self.server.state != self.server.STATE_OPEN:
            raise AssertionError("in-memory WebSocket handshake did not open the server side")

    def _connect(self) -> None:
        self.server.connection_made(self.server_transport)
        self.client.connection_made(self.client_transport)
        self.loop.call_soon(self._forward, self.client_transport, self.server)

    def _forward(self, source: MemoryTransport, destination: Any) -> None:
        """Hand the handshake octets across once they are written (request, then response)."""
        if not source.written:
            self.loop.call_soon(self._forward, source, destination)
            return
        destination.data_received(source.take())
        if destination is self.server:
            self.loop.call_soon(self._forward, self.server_transport, self.client)

    def deliver_to_server(self, pieces: list[bytes], expected_messages: int) -> None:
        """Feed ``pieces`` to the server as separate reads, then run the loop until the messages arrived."""

        def feed() -> None:
            for piece in pieces:
                self.server.data_received(piece)

        run(self.loop, feed, lambda: len(self.server.received) >= expected_messages)

    def deliver_to_client(self, data: bytes, expected_messages: int) -> None:
        run(self.loop, lambda: self.client.data_received(data), lambda: len(self.client.received) >= expected_messages)

    def send(self, side: str, payload: bytes, is_binary: bool, fragment_size: int | None = None) -> bytes:
        """``sendMessage`` on the client or server inside the loop; returns the octets it wrote."""
        protocol, transport = (self.client, self.client_transport) if side == "client" else (
            self.server, self.server_transport)
        run(self.loop, lambda: protocol.sendMessage(payload, is_binary, fragmentSize=fragment_size))
        return transport.take()

    def close(self) -> None:
        self.loop.close()
