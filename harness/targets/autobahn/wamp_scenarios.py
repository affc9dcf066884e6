"""Scenarios for autobahn's WAMP layer: sessions, serializers and message objects, per thread and shared.

A session (``ApplicationSession``) belongs to one transport and one event loop; scenarios that share one
between threads are classified "shared use unsafe". Object serializers are stateless and message objects
carry a serialization cache meant for sending one message on many transports; those are "unsafe" if
sharing them loses or corrupts data.
"""

from __future__ import annotations

import asyncio
import functools
import random
from typing import Any

from harness.engine.scenario import Scenario
from harness.targets._oracles import random_text
from harness.targets.autobahn import _wamp
from harness.targets.autobahn._wsconn import run

_PROCEDURE = "com.example.echo"
_TOPIC = "com.example.topic"


def _value(rng: random.Random, depth: int = 0) -> Any:
    """A random application payload value of the kinds WAMP carries (JSON-safe types plus bytes)."""
    kind = rng.randrange(8 if depth < 2 else 6)
    if kind == 0:
        return rng.randint(-(2**53), 2**53)
    if kind == 1:
        return rng.random() * 1e6
    if kind == 2:
        return random_text(rng, 12)
    if kind == 3:
        return rng.randbytes(rng.randint(0, 12))
    if kind == 4:
        return rng.choice((None, True, False))
    if kind == 5:
        return rng.randint(0, 255)
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_text(rng, 6): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _args(rng: random.Random) -> list[Any]:
    return [_value(rng) for _ in range(rng.randint(0, 3))]


def _resolved(future: Any, what: str) -> Any:
    if not future.done():
        raise AssertionError(f"{what}: the router answered, but the future is still pending")
    return future.result()



def _deliver_event(transport: Any, topic: str) -> Any:
    """Deliver one router event on ``topic`` to the transport (on its loop's thread)."""
    return transport.deliver(transport.router.event(topic, []))


def _subscribe_recording(session: Any, seen: list[Any]) -> Any:
    """Subscribe ``session`` to the test topic, recording each event's arguments in ``seen``."""
    return session.subscribe(lambda *args: seen.append(list(args)), _TOPIC)

class WampSessionPerThread(Scenario):
    """Each thread owns a joined session (own loop, own transport and serializer) and per step makes a call,
    an acknowledged publish, and receives an event; results, request ids and serializer counts exact."""

    def setup(self) -> None:
        self.sessions = [_wamp.joined_session(_wamp.SERIALIZERS[t % len(_wamp.SERIALIZERS)])
                         for t in range(self.threads)]
        self.events: list[list[Any]] = [[] for _ in range(self.threads)]
        for (session, _, loop), seen in zip(self.sessions, self.events):
            run(loop, functools.partial(_subscribe_recording, session, seen))

    def step(self, thread_index: int, iteration: int) -> None:
        from autobahn.wamp.types import PublishOptions

        session, transport, loop = self.sessions[thread_index]
        rng = self.rng(thread_index, iteration)
        args, event_args = _args(rng), _args(rng)

        def exchange() -> tuple[Any, Any]:
            called = session.call(_PROCEDURE, *args)
            published = session.publish(_TOPIC, *args, options=PublishOptions(acknowledge=True))
            transport.deliver(transport.router.event(_TOPIC, event_args))
            return called, published

        called, published = run(loop, exchange)
        result = _resolved(called, "call")
        if result != _wamp.echo(_PROCEDURE, args):
            raise AssertionError(f"call returned {result!r}, expected {_wamp.echo(_PROCEDURE, args)!r}")
        _resolved(published, "acknowledged publish")
        if self.events[thread_index][-1:] != [event_args]:
            raise AssertionError(f"event handler saw {self.events[thread_index][-1:]!r}, expected {[event_args]!r}")

    def verify(self) -> None:
        for index, (_session, transport, loop) in enumerate(self.sessions):
            ids = transport.router.request_ids
            if ids != list(range(1, len(ids) + 1)):
                raise AssertionError(f"session {index}: request ids not 1..n in order: {ids[:20]}...")
            counted = (transport._serializer.stats_messages(), transport.sent + transport.received)
            if counted[0] != counted[1]:
                raise AssertionError(f"session {index}: serializer counted {counted[0]} messages, "
                                     f"{counted[1]} went through it")
            loop.close()


class WampSessionChurnPerThread(Scenario):
    """Each thread keeps making new sessions on its own loop: create, join, one call, drop. Sessions are
    per thread, but their creation touches module-level state (txaio's logger registry, role tables)."""

    def setup(self) -> None:
        self.loops = [asyncio.new_event_loop() for _ in range(self.threads)]

    def step(self, thread_index: int, iteration: int) -> None:
        kind = _wamp.SERIALIZERS[(thread_index + iteration) % len(_wamp.SERIALIZERS)]
        session, _, loop = _wamp.joined_session(kind, self.loops[thread_index])
        args = [thread_index, iteration]
        result = _resolved(run(loop, lambda: session.call(_PROCEDURE, *args)), "call")
        if result != _wamp.echo(_PROCEDURE, args):
            raise AssertionError(f"new session's call {args} returned {result!r}")

    def verify(self) -> None:
        for loop in self.loops:
            loop.close()


class WampSessionSharedCalls(Scenario):
    """Threads call and publish on one joined session directly (not via its event loop). Every call must
    get its own result and every request a unique id."""

    def setup(self) -> None:
        self.session, self.transport, self.loop = _wamp.joined_session()
        self.issued = [0] * self.threads

    def step(self, thread_index: int, iteration: int) -> None:
        from autobahn.wamp.types import PublishOptions

        args = [thread_index, iteration]
        result = _resolved(self.session.call(_PROCEDURE, *args), "call")
        if result != _wamp.echo(_PROCEDURE, args):
            raise AssertionError(f"call {args} returned {result!r} (another call's result)")
        _resolved(self.session.publish(_TOPIC, *args, options=PublishOptions(acknowledge=True)), "publish")
        self.issued[thread_index] += 2

    def verify(self) -> None:
        ids = self.transport.router.request_ids
        self.loop.close()
        duplicates = len(ids) - len(set(ids))
        if duplicates or len(ids) != sum(self.issued):
            raise AssertionError(f"{len(ids)} requests reached the router for {sum(self.issued)} issued; "
                                 f"{duplicates} reused a request id")


class WampSessionSharedSubscribe(Scenario):
    """Threads subscribe handlers on one joined session; at iteration i all subscribe to the same new topic
    (the router gives one subscription id per topic). An event then must reach every handler once."""

    def setup(self) -> None:
        self.session, self.transport, self.loop = _wamp.joined_session()
        self.calls: dict[str, int] = {}

    def step(self, thread_index: int, iteration: int) -> None:
        topic = f"{_TOPIC}.{iteration}"
        subscription = _resolved(self.session.subscribe(self._handler(topic), topic), "subscribe")
        if not subscription.active:
            raise AssertionError(f"subscription to {topic} came back inactive")

    def _handler(self, topic: str) -> Any:
        def handler(*args: Any) -> None:
            self.calls[topic] = self.calls.get(topic, 0) + 1  # called on the verifying thread only

        return handler

    def verify(self) -> None:
        lost = {}
        for iteration in range(self.iterations):
            topic = f"{_TOPIC}.{iteration}"
            run(self.loop, functools.partial(_deliver_event, self.transport, topic))
            if self.calls.get(topic, 0) != self.threads:
                lost[topic] = self.threads - self.calls.get(topic, 0)
        self.loop.close()
        if lost:
            raise AssertionError(f"{sum(lost.values())} of {self.threads * self.iterations} handlers never called "
                                 f"(subscriptions lost on {len(lost)} topics, e.g. {next(iter(lost.items()))})")


class ObservableSharedOn(Scenario):
    """Threads add listeners to one session's events with ``on()`` (join, leave, ready, connect,
    disconnect in turn); firing each event then must call every listener added for it exactly once."""

    _EVENTS = ("join", "leave", "ready", "connect", "disconnect")

    def setup(self) -> None:
        from autobahn.asyncio.wamp import ApplicationSession
        from autobahn.wamp.types import ComponentConfig

        self.loop = asyncio.new_event_loop()
        self.session = ApplicationSession(ComponentConfig(realm=_wamp.REALM))
        self.calls = dict.fromkeys(self._EVENTS, 0)

    def step(self, thread_index: int, iteration: int) -> None:
        event = self._EVENTS[iteration % len(self._EVENTS)]

        def listener(*args: Any, **kwargs: Any) -> None:
            self.calls[event] += 1  # fired on the verifying thread only

        self.session.on(event, listener)

    def verify(self) -> None:
        for event in self._EVENTS:
            run(self.loop, functools.partial(self.session.fire, event, self.session))
        self.loop.close()
        expected = {e: self.threads * len(range(i, self.iterations, len(self._EVENTS)))
                    for i, e in enumerate(self._EVENTS)}
        if self.calls != expected:
            lost = sum(expected.values()) - sum(self.calls.values())
            raise AssertionError(f"{lost} listeners lost: fired {self.calls}, registered {expected}")


class WampSerializerSharedStats(Scenario):
    """Threads serialize and parse messages through one transport serializer (one connection's); its
    statistics must count every message and octet."""

    def setup(self) -> None:
        kind = _wamp.SERIALIZERS[self.seed % len(_wamp.SERIALIZERS)]
        self.serializer = _wamp.serializers().SERID_TO_SER[kind]()
        self.octets = [0] * self.threads

    def step(self, thread_index: int, iteration: int) -> None:
        from autobahn.wamp import message

        rng = self.rng(thread_index, iteration)
        payload, is_binary = self.serializer.serialize(message.Call(iteration + 1, _PROCEDURE, args=_args(rng)))
        self.serializer.unserialize(payload, is_binary)
        self.octets[thread_index] += 2 * len(payload)

    def verify(self) -> None:
        messages, octets = self.serializer.stats_messages(), self.serializer.stats_bytes()
        want_messages, want_octets = 2 * self.threads * self.iterations, sum(self.octets)
        if (messages, octets) != (want_messages, want_octets):
            raise AssertionError(f"serializer counted {messages} messages / {octets} octets, expected "
                                 f"{want_messages} / {want_octets} ({want_messages - messages} messages lost)")


class WampObjectSerializersShared(Scenario):
    """One JSON, MessagePack and CBOR object serializer each, used by all threads: every encoding must equal
    an unshared serializer's and decode back to the value."""

    def setup(self) -> None:
        self.classes = {kind: _wamp.serializers().SERID_TO_OBJSER[kind] for kind in _wamp.SERIALIZERS}
        self.shared = {kind: cls() for kind, cls in self.classes.items()}

    def step(self, thread_index: int, iteration: int) -> None:
        value = _args(self.rng(thread_index, iteration))
        for kind, shared in self.shared.items():
            data = shared.serialize(value)
            reference = self.classes[kind]().serialize(value)
            if data != reference:
                raise AssertionError(f"shared {kind} serializer: {data!r} != unshared {reference!r}")
            back = shared.unserialize(data)
            if back != [value]:
                raise AssertionError(f"shared {kind} serializer: {value!r} came back as {back!r}")


class WampMessageSharedSerialize(Scenario):
    """One EVENT message fanned out: every thread serializes it for fresh transports (JSON, MessagePack,
    CBOR, FlatBuffers) through the message's serialization cache; octets and parsed fields must equal
    those of an unshared copy of the message."""

    _KINDS = (*_wamp.SERIALIZERS, "flatbuffers")

    def setup(self) -> None:
        from autobahn.wamp import message

        self.serializers = _wamp.serializers().SERID_TO_SER
        rng = self.rng(-1)
        args, kwargs = _args(rng), {"k": _value(rng)}
        self.message = message.Event(rng.randint(1, 2**53), rng.randint(1, 2**53), args=args, kwargs=kwargs)
        copy = message.Event(self.message.subscription, self.message.publication, args=args, kwargs=kwargs)
        self.expected = {}
        for kind in self._KINDS:
            serializer = self.serializers[kind]()
            octets = serializer.serialize(copy)
            self.expected[kind] = (octets, _fields(serializer.unserialize(*octets)[0]))

    def step(self, thread_index: int, iteration: int) -> None:
        for kind in self._KINDS:
            transport_serializer = self.serializers[kind]()
            octets = transport_serializer.serialize(self.message)
            expected_octets, expected_fields = self.expected[kind]
            if octets != expected_octets:
                raise AssertionError(f"{kind}: shared message serialized to {octets!r}, expected {expected_octets!r}")
            fields = _fields(transport_serializer.unserialize(*octets)[0])
            if fields != expected_fields:
                raise AssertionError(f"{kind}: shared message parsed back as {fields!r}, expected {expected_fields!r}")


def _fields(event: Any) -> tuple[Any, ...]:
    return event.subscription, event.publication, event.args, event.kwargs
