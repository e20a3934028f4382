"""pyzmq over ipc:// (a Unix-domain socket under ZeroMQ's own I/O thread):
PUSH and PULL for the stream, PAIR for ping-pong. recv() returns `bytes`.
The high-water mark is left at ZeroMQ's default."""

import os
import tempfile
import uuid

from harness import timed_pings

QUIT = b""


class Zmq:
    def __init__(self, ctx):
        self.path = os.path.join(tempfile.gettempdir(), f"ipo-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}.zmq")
        self.address = f"ipc://{self.path}"

    def unavailable(self):
        import zmq  # noqa: F401
        return None

    def cleanup(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _socket(self, kind, bind):
        import zmq

        context = zmq.Context()
        sock = context.socket(kind)
        sock.linger = 1000
        if bind:
            sock.bind(self.address)
        else:
            sock.connect(self.address)
        return context, sock

    def stream_send(self, h):
        import zmq

        context, sock = self._socket(zmq.PUSH, bind=False)
        send, payload = sock.send, h.payload
        h.start()
        for _ in range(h.count):
            send(payload)
        h.sent()
        sock.close()
        context.term()

    def stream_recv(self, h):
        import zmq

        context, sock = self._socket(zmq.PULL, bind=True)
        recv, see = sock.recv, h.see
        h.ready()
        for _ in range(h.count):
            see(recv())
        h.finish()
        sock.close()
        context.term()

    def ping(self, h):
        import zmq

        context, sock = self._socket(zmq.PAIR, bind=False)
        h.start()

        def round_trip(msg):
            sock.send(msg)
            return sock.recv()

        rtts = timed_pings(h, round_trip)
        sock.send(QUIT)
        h.sent()
        sock.close()
        context.term()
        return rtts

    def pong(self, h):
        import zmq

        context, sock = self._socket(zmq.PAIR, bind=True)
        h.ready()
        while (msg := sock.recv()) != QUIT:
            sock.send(msg)
        h.finish_pong()
        sock.close()
        context.term()
