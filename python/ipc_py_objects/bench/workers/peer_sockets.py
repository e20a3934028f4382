"""asyncio streams over a Unix-domain socket, on asyncio's own loop or on
uvloop: the way an asyncio program talks to another process without extra
packages. Each message goes with a 4-byte length before it; the receiver
reads it with readexactly, which returns `bytes`.
"""

import asyncio
import os
import tempfile
import uuid

from harness import atimed_pings

QUIT = b""


def _run(loop_kind, coro):
    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


async def _read(reader):
    n = int.from_bytes(await reader.readexactly(4), "little")
    return await reader.readexactly(n) if n else b""


def _write(writer, data):
    writer.write(len(data).to_bytes(4, "little"))
    writer.write(data)


class UnixStreams:
    def __init__(self, ctx, loop="asyncio"):
        self.loop = loop
        self.path = os.path.join(tempfile.gettempdir(), f"ipo-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}.sock")

    def unavailable(self):
        if self.loop == "uvloop":
            import uvloop  # noqa: F401
        return None

    def cleanup(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass

    async def _serve(self, h, handler):
        """The receiving side listens (it is ready first); the other connects."""
        finished = asyncio.get_running_loop().create_future()

        async def on_client(reader, writer):
            try:
                await handler(reader, writer)
                finished.set_result(None)
            except BaseException as exc:  # noqa: BLE001 (handed to the waiting coroutine)
                finished.set_exception(exc)
            finally:
                writer.close()

        server = await asyncio.start_unix_server(on_client, self.path)
        h.ready()
        async with server:
            await finished

    async def _connect(self):
        for _ in range(500):  # the listener may not be up yet
            try:
                return await asyncio.open_unix_connection(self.path)
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.01)
        raise TimeoutError(f"nobody listens on {self.path}")

    # ---- stream -------------------------------------------------------------------------------

    def stream_send(self, h):
        async def main():
            reader, writer = await self._connect()
            payload = h.payload
            await h.astart()
            for _ in range(h.count):
                _write(writer, payload)
                await writer.drain()
            await h.asent()
            writer.close()

        _run(self.loop, main())

    def stream_recv(self, h):
        async def handler(reader, writer):
            see = h.see
            for _ in range(h.count):
                see(await _read(reader))
            h.finish()

        _run(self.loop, self._serve(h, handler))

    # ---- ping-pong ----------------------------------------------------------------------------

    def ping(self, h):
        async def main():
            reader, writer = await self._connect()
            await h.astart()

            async def round_trip(msg):
                _write(writer, msg)
                await writer.drain()
                return await _read(reader)

            rtts = await atimed_pings(h, round_trip)
            _write(writer, QUIT)
            await writer.drain()
            await h.asent()
            writer.close()
            return rtts

        return _run(self.loop, main())

    def pong(self, h):
        async def handler(reader, writer):
            while (msg := await _read(reader)) != QUIT:
                _write(writer, msg)
                await writer.drain()
            h.finish_pong()

        _run(self.loop, self._serve(h, handler))
