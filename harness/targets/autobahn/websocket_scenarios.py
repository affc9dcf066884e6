"""Scenarios for autobahn's WebSocket protocol: what runs per message, per connection and when shared.

Scenarios that mask or validate exist twice, with NVX and with autobahn's pure-Python fallbacks
(``AUTOBAHN_USE_NVX``): the differential run of the same code. Messages are built and checked with the
independent codec in :mod:`harness.targets.autobahn._frames`.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from harness.engine.scenario import Scenario
from harness.targets._oracles import random_chunks, random_text
from harness.targets.autobahn import _backend, _frames, _wsconn

_MAX_CHARS = 120
_MAX_BINARY = 400


def _payload(rng: random.Random) -> tuple[bool, bytes]:
    """A random message: text (mixed-width UTF-8) or binary, short or past the 126-octet length form."""
    if rng.random() < 0.5:
        return False, random_text(rng, _MAX_CHARS).encode("utf-8")
    return True, rng.randbytes(rng.randint(0, _MAX_BINARY))


def _check_sent(label: str, raw: bytes, expected: tuple[bool, bytes], *, masked: bool) -> int:
    """``raw`` must be exactly the frames of ``expected``, masked iff ``masked``; returns the frame count."""
    frames = _frames.decode(raw)
    if any(frame.masked != masked for frame in frames):
        raise AssertionError(f"{label}: frames {'not ' if masked else ''}masked")
    got = _frames.messages(frames)
    if got != [expected]:
        raise AssertionError(f"{label}: wire carries {got!r}, sent {expected!r}")
    return len(frames)


class _PerConnection(Scenario):
    """Each thread owns a connected client/server pair (own loop) and exchanges messages both ways.

    Per step: the client sends a message through ``sendMessage`` (masked, checked on the wire), the server
    receives it plus an independently framed, fragmented message with pings in between (unmasking, UTF-8
    validation, reassembly, auto-pong), and the server sends one to the client. ``verify`` checks each
    connection's traffic counters exactly.
    """

    backend: _backend.Backend = "nvx"

    def setup(self) -> None:
        _backend.use(self.backend)
        self.pairs = [_wsconn.Pair() for _ in range(self.threads)]
        self.sent = [{"client_messages": 0, "client_octets": 0, "server_frames": 0, "server_octets": 0}
                     for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        rng = self.rng(thread_index, iteration)
        pair, counts = self.pairs[thread_index], self.sent[thread_index]
        to_server, framed, to_client = _payload(rng), _payload(rng), _payload(rng)
        pings: list[bytes] = []
        framed_raw = _frames.fragmented(rng, framed[0], framed[1], masked=True, pings=pings)
        fragment = rng.choice((None, None, 64))
        server_wants, client_wants = len(pair.server.received) + 2, len(pair.client.received) + 1

        def exchange() -> int:
            pair.client.sendMessage(to_server[1], to_server[0], fragmentSize=fragment)
            raw = pair.client_transport.take()
            frames = _check_sent("client sendMessage", raw, to_server, masked=True)
            pair.server.sendMessage(to_client[1], to_client[0])
            back = pair.server_transport.take()
            _check_sent("server sendMessage", back, to_client, masked=False)
            for piece in random_chunks(rng, raw) + random_chunks(rng, framed_raw):
                pair.server.data_received(piece)
            pair.client.data_received(back)
            return frames

        def arrived() -> bool:
            return len(pair.server.received) >= server_wants and len(pair.client.received) >= client_wants

        frames = _wsconn.run(pair.loop, exchange, arrived)
        if pair.server.received[-2:] != [to_server, framed]:
            raise AssertionError(f"server received {pair.server.received[-2:]!r}, expected {[to_server, framed]!r}")
        if pair.client.received[-1] != to_client:
            raise AssertionError(f"client received {pair.client.received[-1]!r}, expected {to_client!r}")
        pongs = [f.payload for f in _frames.decode(pair.server_transport.take()) if f.opcode == _frames.PONG]
        if pongs != pings:
            raise AssertionError(f"server answered pings {pings!r} with pongs {pongs!r}")
        counts["client_messages"] += 1
        counts["server_frames"] += frames + len(_frames.decode(framed_raw)) - len(pings)
        counts["client_octets"] += len(to_server[1])
        counts["server_octets"] += len(to_server[1]) + len(framed[1])

    def verify(self) -> None:
        for index, (pair, counts) in enumerate(zip(self.pairs, self.sent)):
            client, server = pair.client.trafficStats, pair.server.trafficStats
            _expect_counters(f"connection {index}", {
                "client outgoingWebSocketMessages": (client.outgoingWebSocketMessages, counts["client_messages"]),
                "client outgoingOctetsAppLevel": (client.outgoingOctetsAppLevel, counts["client_octets"]),
                "server incomingWebSocketMessages": (server.incomingWebSocketMessages, 2 * counts["client_messages"]),
                "server incomingWebSocketFrames": (server.incomingWebSocketFrames, counts["server_frames"]),
                "server incomingOctetsAppLevel": (server.incomingOctetsAppLevel, counts["server_octets"]),
            })
            pair.close()


def _expect_counters(label: str, counters: dict[str, tuple[int, int]]) -> None:
    wrong = {name: f"{got} (expected {want})" for name, (got, want) in counters.items() if got != want}
    if wrong:
        raise AssertionError(f"{label}: counters off: {wrong}")


PerConnectionNvx, PerConnectionPure = _backend.variants(_PerConnection)


class _SharedConnectionSend(Scenario):
    """All threads call ``sendMessage`` on one connection (an application pushing from worker threads
    without handing over to the event loop). Every message must reach the wire whole and be counted."""

    backend: _backend.Backend = "nvx"

    def setup(self) -> None:
        _backend.use(self.backend)
        self.pair = _wsconn.Pair()
        self.sent: list[list[tuple[bool, bytes]]] = [[] for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        message = _payload(self.rng(thread_index, iteration))
        self.pair.client.sendMessage(message[1], message[0])
        self.sent[thread_index].append(message)

    def verify(self) -> None:
        frames = _frames.decode(self.pair.client_transport.take())
        got = _frames.messages(frames)
        sent = [m for per_thread in self.sent for m in per_thread]
        missing = _multiset_difference(sent, got)
        extra = _multiset_difference(got, sent)
        stats = self.pair.client.trafficStats
        self.pair.close()
        if missing or extra:
            raise AssertionError(f"wire carries {len(got)} messages for {len(sent)} sent: "
                                 f"{len(missing)} missing, {len(extra)} not sent")
        _expect_counters("shared connection", {
            "outgoingWebSocketMessages": (stats.outgoingWebSocketMessages, len(sent)),
            "outgoingWebSocketFrames": (stats.outgoingWebSocketFrames, len(frames)),
            "outgoingOctetsAppLevel": (stats.outgoingOctetsAppLevel, sum(len(m[1]) for m in sent)),
        })


def _multiset_difference(a: list[Any], b: list[Any]) -> list[Any]:
    remaining: dict[Any, int] = {}
    for item in b:
        remaining[item] = remaining.get(item, 0) + 1
    out = []
    for item in a:
        if remaining.get(item, 0):
            remaining[item] -= 1
        else:
            out.append(item)
    return out


SharedConnectionSendNvx, SharedConnectionSendPure = _backend.variants(_SharedConnectionSend)


class SharedFactoryConnections(Scenario):
    """Threads open and drop connections on one server factory (several event loops behind one factory).

    The factory's open-handshake timer is off here (``openHandshakeTimeout=0``): the timer wheel belongs to
    one loop, and this scenario looks only at the factory's connection count, which must return to zero.
    No masking or UTF-8 work happens here, so it runs once, with autobahn's default backend.
    """

    def setup(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.factory, _ = _wsconn.factories(self.loop)
        self.factory.setProtocolOptions(openHandshakeTimeout=0)

    def step(self, thread_index: int, iteration: int) -> None:
        protocol = self.factory()
        protocol.connection_made(_wsconn.MemoryTransport())
        protocol.connection_lost(None)

    def verify(self) -> None:
        count = self.factory.getConnectionCount()
        self.loop.close()
        if count != 0:
            raise AssertionError(f"factory counts {count} open connections after every connection was dropped "
                                 f"({self.threads * self.iterations} opened and dropped)")


class _PreparedBroadcast(Scenario):
    """A broadcast: one ``PreparedMessage`` (documented for sending on many connections) is sent by every
    thread on its own connection, and each thread also prepares its own message on one shared factory."""

    backend: _backend.Backend = "nvx"

    def setup(self) -> None:
        _backend.use(self.backend)
        self.pairs = [_wsconn.Pair() for _ in range(self.threads)]
        self.factory = self.pairs[0].client_factory
        self.message = _payload(self.rng(-1))
        self.prepared = self.factory.prepareMessage(self.message[1], self.message[0])

    def step(self, thread_index: int, iteration: int) -> None:
        pair = self.pairs[thread_index]
        pair.client.sendPreparedMessage(self.prepared)
        raw = pair.client_transport.take()
        if raw != self.prepared.payloadHybi:
            raise AssertionError("sendPreparedMessage wrote other octets than the prepared frame")
        _check_sent("shared PreparedMessage", raw, self.message, masked=True)
        own = _payload(self.rng(thread_index, iteration))
        pair.client.sendPreparedMessage(self.factory.prepareMessage(own[1], own[0]))
        _check_sent("prepareMessage on a shared factory", pair.client_transport.take(), own, masked=True)

    def verify(self) -> None:
        for pair in self.pairs:
            pair.close()


PreparedBroadcastNvx, PreparedBroadcastPure = _backend.variants(_PreparedBroadcast)
