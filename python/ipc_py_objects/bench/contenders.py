"""Who runs in the suite, and in which benchmarks: one table.

Each contender names a peer class in `workers/` (run by workers/run_pair.py
in a process of its own), the interpreter it needs ("ours": this one;
"reference": the venv with InterProcessPyObjects), and the benchmarks it
takes part in. The C references (benchmarks/c, with --c-dir) are run by the
suite itself.
"""

from dataclasses import dataclass, field

PAIR = ("throughput", "roundtrip", "rate", "idle")
STREAM_ONLY = ("throughput", "rate")
# Round trips where both sides sleep: each contender's sleeping kind, beside
# a raw eventfd ping-pong on the same loop (the floor from Python).
SLEEP = ("sleep-roundtrip",)
# The seed's payload (400 kB) in a ping-pong: the reader reads it right
# after the writer's turn.
BULK = ("bulk-roundtrip",)
TURNS = ("turns-2", "turns-4", "turns-8", "turns-16", "writer-1", "writer-3")
PRODUCERS = ("producers-1", "producers-3", "producers-7", "producers-15")


@dataclass(frozen=True)
class Contender:
    id: str
    label: str
    module: str
    cls: str
    benchmarks: tuple
    peer: dict = field(default_factory=dict)
    python: str = "ours"
    note: str = ""
    env: dict = field(default_factory=dict)
    kind: str = "peer"  # "ours", "peer", "reference" (the original package), "limit"


CONTENDERS = (
    Contender("ours-sync", "ipc_py_objects (sync)", "peer_ipo", "Ipo", PAIR + BULK, {"loop": "sync"}, kind="ours"),
    Contender("ours-sync-sleep", "ipc_py_objects (sync, sleeping)", "peer_ipo", "Ipo", SLEEP + BULK,
              {"loop": "sync", "sleep": True}, kind="ours", note="spin_budget=0"),
    Contender("ours-asyncio-sleep", "ipc_py_objects (asyncio, sleeping)", "peer_ipo", "Ipo", SLEEP,
              {"loop": "asyncio", "sleep": True}, kind="ours", note="save_cpu_time=True"),
    Contender("ours-uvloop-sleep", "ipc_py_objects (uvloop, sleeping)", "peer_ipo", "Ipo", SLEEP,
              {"loop": "uvloop", "sleep": True}, kind="ours", note="save_cpu_time=True"),
    Contender("ours-asyncio", "ipc_py_objects (asyncio)", "peer_ipo", "Ipo", PAIR, {"loop": "asyncio"}, kind="ours"),
    Contender("ours-uvloop", "ipc_py_objects (uvloop)", "peer_ipo", "Ipo", PAIR, {"loop": "uvloop"}, kind="ours"),
    Contender("reference-sync", "InterProcessPyObjects (sync)", "peer_ipo", "Ipo", PAIR, {"loop": "sync"},
              python="reference", kind="reference"),
    Contender("reference-asyncio", "InterProcessPyObjects (asyncio)", "peer_ipo", "Ipo", PAIR,
              {"loop": "asyncio"}, python="reference", kind="reference"),
    Contender("mp-shm-sem", "shared_memory + semaphores", "peer_mp", "SharedMemorySemaphores", PAIR + BULK,
              note="a ring of 8 slots, two counting semaphores"),
    Contender("mp-queue", "multiprocessing.Queue", "peer_mp", "Queue", PAIR, note="maxsize 10, pickled"),
    Contender("mp-pipe", "multiprocessing.Pipe", "peer_mp", "Pipe", PAIR + SLEEP + BULK,
              note="send_bytes / recv_bytes"),
    Contender("asyncio-unix", "asyncio Unix-socket streams", "peer_sockets", "UnixStreams", PAIR + SLEEP,
              {"loop": "asyncio"}, note="length-prefixed, readexactly"),
    Contender("uvloop-unix", "uvloop Unix-socket streams", "peer_sockets", "UnixStreams", PAIR + SLEEP,
              {"loop": "uvloop"}, note="length-prefixed, readexactly"),
    Contender("eventfd-sync", "eventfd + poll(), Python", "peer_eventfd", "Eventfd", SLEEP, {"loop": "sync"},
              kind="limit", note="two eventfds and a shared page: the floor of a sleeping wake"),
    Contender("eventfd-asyncio", "eventfd + add_reader, asyncio", "peer_eventfd", "Eventfd", SLEEP,
              {"loop": "asyncio"}, kind="limit", note="the same on asyncio's loop"),
    Contender("eventfd-uvloop", "eventfd + add_reader, uvloop", "peer_eventfd", "Eventfd", SLEEP,
              {"loop": "uvloop"}, kind="limit", note="the same on uvloop"),
    Contender("faster-fifo", "faster-fifo", "peer_fifo", "FasterFifo", PAIR, note="8 MiB ring, pickled"),
    Contender("iceoryx2", "iceoryx2 publish/subscribe", "peer_iceoryx2", "Iceoryx2", PAIR,
              note="with an event service to wake the subscriber"),
    Contender("zmq-ipc", "pyzmq over ipc://", "peer_zmq", "Zmq", PAIR, note="PUSH/PULL; PAIR for round trips"),
    Contender("memcpy", "memcpy, one process", "peer_memcpy", "MemcpyOneProcess", STREAM_ONLY,
              note="the same copies in and out, no second process", kind="limit"),
    # The shared dict.
    Contender("ours-dict", "ipc_py_objects dict", "peer_dicts", "IpoDict", ("dict",), kind="ours"),
    Contender("reference-dict", "InterProcessPyObjects dict", "peer_dicts", "IpoDict", ("dict",),
              {"scale": 0.1}, python="reference", kind="reference", env={"PYTHONHASHSEED": "0"},
              note="needs one PYTHONHASHSEED in both processes (its keys hash with hash())"),
    Contender("ultradict", "UltraDict", "peer_dicts", "UltraDictPeer", ("dict",)),
    Contender("shared-memory-dict", "shared-memory-dict", "peer_dicts", "SharedMemoryDictPeer", ("dict",)),
    Contender("manager-dict", "multiprocessing.Manager().dict()", "peer_dicts", "ManagerDict", ("dict",),
              {"scale": 0.1}),
    # Nested objects and str attributes, one process.
    Contender("ours-objects", "ipc_py_objects objects", "peer_objects", "Ipo", ("objects",), kind="ours"),
    Contender("plain-objects", "plain Python objects", "peer_objects", "Plain", ("objects",), kind="limit",
              note="the same statements on plain objects: the limit"),
    Contender("local-dict", "dict, one process", "peer_dicts", "LocalDict", ("dict",), kind="limit",
              note="no second process: the limit"),
    # Contention: many processes (workers/run_many.py).
    Contender("ours-many", "ipc_py_objects (sync)", "peer_contention", "Ipo", TURNS + PRODUCERS, kind="ours",
              note="with wait_my_turn(sm); producers: one put_message per turn"),
    Contender("mp-lock", "multiprocessing.Lock", "peer_contention", "MpLock", TURNS, note="with lock"),
    Contender("mp-queue-many", "multiprocessing.Queue", "peer_contention", "MpQueue", PRODUCERS,
              note="maxsize 10,000, pickled"),
    Contender("faster-fifo-many", "faster-fifo", "peer_contention", "FasterFifo", PRODUCERS,
              note="8 MiB ring, pickled; get_many"),
)

# With --c-dir: the C programs of benchmarks/c, measured in the same run.
C_LIMITS = (
    Contender("c-copy", "C, two processes (copies + spin flag)", "copy_limits", "", ("throughput", "rate"),
              kind="limit", note="benchmarks/c/copy_limits"),
    Contender("c-spin", "C, shared cache line, spinning", "latency_limits", "spin", ("roundtrip",),
              kind="limit", note="benchmarks/c/latency_limits"),
    Contender("c-eventfd", "C, eventfd + poll(), sleeping", "latency_limits", "eventfd", ("roundtrip",) + SLEEP,
              kind="limit", note="benchmarks/c/latency_limits"),
)
