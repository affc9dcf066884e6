"""The ``autobahn`` target: autobahn-python's WebSocket and WAMP stack, its NVX extensions and compiled deps.

Data only: importing this module does not import autobahn (scenarios import it lazily, in their own
process). Scenarios marked "shared-use-unsafe" share an object autobahn documents as belonging to one
connection, session or frame; their failures are findings, not a failed verdict. The WebSocket scenarios that
mask or validate run twice, with NVX and with autobahn's pure-Python fallbacks (``-nvx`` / ``-pure``).
Per-scenario sizes keep a default run of the whole target under two minutes on two cores.
"""

from __future__ import annotations

from typing import Any

from harness.targets import ScenarioSpec, Target

_PKG = "harness.targets.autobahn"

# Every autobahn module an asyncio WebSocket or WAMP application loads (entry points: autobahn.asyncio.
# websocket, .wamp, .component, .rawsocket; serializers; NVX), then the compiled extensions. The twisted
# flavour and the cryptosign/mnemonic modules need optional extras and are not part of the base install.
_AUTOBAHN_MODULES = (
    "autobahn", "autobahn._version", "autobahn.exception", "autobahn.util",
    "autobahn.asyncio", "autobahn.asyncio.component", "autobahn.asyncio.rawsocket", "autobahn.asyncio.util",
    "autobahn.asyncio.wamp", "autobahn.asyncio.websocket",
    "autobahn.flatbuffers", "autobahn.flatbuffers._git_version", "autobahn.flatbuffers._version",
    "autobahn.flatbuffers.builder", "autobahn.flatbuffers.compat", "autobahn.flatbuffers.encode",
    "autobahn.flatbuffers.number_types", "autobahn.flatbuffers.packer", "autobahn.flatbuffers.table",
    "autobahn.flatbuffers.util",
    "autobahn.nvx", "autobahn.nvx._compile_args", "autobahn.nvx._utf8validator", "autobahn.nvx._xormasker",
    "autobahn.rawsocket", "autobahn.rawsocket.util",
    "autobahn.wamp", "autobahn.wamp.auth", "autobahn.wamp.component", "autobahn.wamp.exception",
    "autobahn.wamp.interfaces", "autobahn.wamp.message", "autobahn.wamp.message_fbs", "autobahn.wamp.protocol",
    "autobahn.wamp.request", "autobahn.wamp.role", "autobahn.wamp.serializer", "autobahn.wamp.types",
    "autobahn.wamp.uri", "autobahn.wamp.websocket",
    "autobahn.wamp.gen", "autobahn.wamp.gen.wamp", "autobahn.wamp.gen.wamp.proto",
    *(f"autobahn.wamp.gen.wamp.proto.{name}" for name in (
        "Abort", "Authenticate", "Call", "Cancel", "CancelMode", "Challenge", "Error", "Event", "EventReceived",
        "Goodbye", "Hello", "Interrupt", "Invocation", "InvocationPolicy", "Match", "Message", "MessageType",
        "Publish", "Published", "Register", "Registered", "Result", "Subscribe", "Subscribed", "Unregister",
        "Unregistered", "Unsubscribe", "Unsubscribed", "Welcome", "Yield")),
    "autobahn.websocket", "autobahn.websocket.compress", "autobahn.websocket.compress_base",
    "autobahn.websocket.compress_bzip2", "autobahn.websocket.compress_deflate", "autobahn.websocket.interfaces",
    "autobahn.websocket.protocol", "autobahn.websocket.types", "autobahn.websocket.utf8validator",
    "autobahn.websocket.util", "autobahn.websocket.xormasker",
)
_COMPILED_MODULES = (
    "_nvx_utf8validator", "_nvx_xormasker", "_cffi_backend",
    "msgpack._cmsgpack", "cbor2._cbor2", "ujson", "cryptography.hazmat.bindings._rust",
)


def _spec(name: str, module: str, attr: str, description: str, *, shared_use: bool = False,
          rounds: int | None = None, iterations: int | None = None) -> ScenarioSpec:
    return ScenarioSpec(
        name=name,
        ref=f"{_PKG}.{module}:{attr}",
        description=description,
        on_failure="shared-use-unsafe" if shared_use else "unsafe",
        rounds=rounds,
        iterations=iterations,
    )


def _both_backends(name: str, attr: str, description: str, **sizes: Any) -> tuple[ScenarioSpec, ...]:
    """The same WebSocket scenario with NVX and with autobahn's pure-Python fallbacks."""
    return tuple(
        _spec(f"{name}-{backend}", "websocket_scenarios", f"{attr}{backend.title()}",
              f"{description} [{'NVX' if backend == 'nvx' else 'pure-Python fallbacks'}]", **sizes)
        for backend in ("nvx", "pure")
    )


_NVX = (
    _spec("nvx-utf8-per-thread", "nvx_scenarios", "Utf8PerThread",
          "per-thread NVX and pure Utf8Validator over random chunked streams == bytes.decode oracle",
          iterations=200),
    _spec("nvx-xor-per-thread", "nvx_scenarios", "XorPerThread",
          "per-thread NVX and pure XOR maskers over random chunkings == RFC 6455 masking", iterations=100),
    _spec("nvx-utf8-shared-nvx", "nvx_scenarios", "Utf8SharedNvx",
          "one NVX Utf8Validator shared by all threads (autobahn: one per connection)", shared_use=True),
    _spec("nvx-utf8-shared-pure", "nvx_scenarios", "Utf8SharedPure",
          "one pure-Python Utf8Validator shared by all threads (autobahn: one per connection)", shared_use=True),
    _spec("nvx-xor-shared-nvx", "nvx_scenarios", "XorSharedNvx",
          "one NVX XOR masker shared by all threads (autobahn: one per frame)", shared_use=True),
    _spec("nvx-xor-shared-pure", "nvx_scenarios", "XorSharedPure",
          "one pure-Python XOR masker shared by all threads (autobahn: one per frame)", shared_use=True),
    _spec("nvx-churn", "nvx_scenarios", "NvxChurn",
          "NVX objects created, used and dropped while other threads run gc.collect()", rounds=10, iterations=100),
    _spec("nvx-cold-start", "nvx_scenarios", "NvxColdStart",
          "threads make the first autobahn WebSocket imports and NVX calls at once", rounds=5, iterations=50),
)

_WEBSOCKET = (
    *_both_backends("ws-per-connection", "PerConnection",
                    "per-thread connections: send, receive fragmented/pinged frames, counters exact",
                    rounds=8, iterations=40),
    *_both_backends("ws-shared-connection-send", "SharedConnectionSend",
                    "threads call sendMessage on one connection; wire and counters exact",
                    shared_use=True, iterations=200),
    *_both_backends("ws-prepared-broadcast", "PreparedBroadcast",
                    "one PreparedMessage sent on every thread's connection; prepareMessage on a shared factory",
                    iterations=100),
    _spec("ws-shared-factory-connections", "websocket_scenarios", "SharedFactoryConnections",
          "threads open and drop connections on one server factory; connection count back to 0",
          shared_use=True, rounds=10, iterations=50),
)

_WAMP = (
    _spec("wamp-session-per-thread", "wamp_scenarios", "WampSessionPerThread",
          "per-thread sessions: call, acknowledged publish, event; request ids and serializer counts exact",
          rounds=10, iterations=50),
    _spec("wamp-session-churn-per-thread", "wamp_scenarios", "WampSessionChurnPerThread",
          "threads keep creating, joining and dropping their own sessions; every call answered exactly",
          rounds=5, iterations=20),
    _spec("wamp-session-shared-calls", "wamp_scenarios", "WampSessionSharedCalls",
          "threads call and publish on one session: own results, unique request ids",
          shared_use=True, iterations=50),
    _spec("wamp-session-shared-subscribe", "wamp_scenarios", "WampSessionSharedSubscribe",
          "threads subscribe to the same topics on one session: no handler lost", shared_use=True,
          iterations=100),
    _spec("wamp-observable-shared-on", "wamp_scenarios", "ObservableSharedOn",
          "threads add session event listeners with on(): no listener lost", shared_use=True,
          rounds=50, iterations=10),
    _spec("wamp-serializer-shared-stats", "wamp_scenarios", "WampSerializerSharedStats",
          "one transport serializer used by all threads: message and octet statistics exact", shared_use=True,
          iterations=200),
    _spec("wamp-object-serializers-shared", "wamp_scenarios", "WampObjectSerializersShared",
          "shared JSON/MessagePack/CBOR object serializers == unshared ones, round trip exact",
          iterations=100),
    _spec("wamp-message-shared-serialize", "wamp_scenarios", "WampMessageSharedSerialize",
          "one EVENT serialized by all threads for fresh transports (serialization cache) == unshared copy",
          iterations=50),
)

_UTIL = (
    _spec("util-idgenerator-shared", "util_scenarios", "IdGeneratorShared",
          "threads draw from one IdGenerator (autobahn: one per session): ids 1..n once each", shared_use=True),
    _spec("util-functions-shared", "util_scenarios", "UtilFunctionsShared",
          "autobahn.util id/token/time/text helpers from all threads: well formed, random ids unique",
          iterations=200),
)

TARGET = Target(
    name="autobahn",
    description="autobahn-python: WebSocket framing with NVX or pure-Python masking/UTF-8, WAMP sessions, "
                "serializers and utilities",
    modules=(*_AUTOBAHN_MODULES, *_COMPILED_MODULES),
    scenarios=(*_NVX, *_WEBSOCKET, *_WAMP, *_UTIL),
    distributions=("autobahn",),
    extra="autobahn",
)
