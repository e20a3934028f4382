"""The standard library's ways between two processes: shared_memory with
semaphores, multiprocessing.Queue and multiprocessing.Pipe. Each as its
documentation suggests, with no tuning the other contenders lack.

shared_memory + semaphores: a ring of `slots` message slots and two
counting semaphores (free slots, filled slots), so the sender can run ahead
of the receiver as it can with the others. Queue: bounded (`maxsize`
messages), pickling each `bytes`. Pipe: `send_bytes` and `recv_bytes`, the
raw-bytes calls (no pickling).
"""

from harness import timed_pings

QUIT = b""


class SharedMemorySemaphores:
    def __init__(self, ctx, slots=8, slot_size=400_000):
        from multiprocessing import shared_memory

        self.slots = slots
        self.slot_size = slot_size
        self.shm = shared_memory.SharedMemory(create=True, size=slots * slot_size + 8)
        self.name = self.shm.name
        self.free, self.filled = ctx.Semaphore(slots), ctx.Semaphore(0)
        self.back_free, self.back_filled = ctx.Semaphore(1), ctx.Semaphore(0)  # the replies' slot

    def __getstate__(self):
        state = dict(self.__dict__)
        state["shm"] = None  # each child attaches by name
        return state

    def cleanup(self):
        self.shm.close()
        self.shm.unlink()

    def _attach(self):
        from multiprocessing import shared_memory

        # The children share the parent's resource tracker (spawn hands it
        # over), so the parent's unlink is the one that counts.
        return shared_memory.SharedMemory(name=self.name)

    def stream_send(self, h):
        shm = self._attach()
        buf, size, slots, slot_size = shm.buf, h.size, self.slots, self.slot_size
        free, filled = self.free, self.filled
        payload = h.payload
        h.start()
        for i in range(h.count):
            free.acquire()
            at = (i % slots) * slot_size
            buf[at:at + size] = payload
            filled.release()
        h.sent()
        del buf
        shm.close()

    def stream_recv(self, h):
        shm = self._attach()
        buf, size, slots, slot_size = shm.buf, h.size, self.slots, self.slot_size
        free, filled, see = self.free, self.filled, h.see
        h.ready()
        for i in range(h.count):
            filled.acquire()
            at = (i % slots) * slot_size
            see(bytes(buf[at:at + size]))
            free.release()
        h.finish()
        del buf
        shm.close()

    def ping(self, h):
        shm = self._attach()
        buf, size = shm.buf, h.size
        h.start()

        def round_trip(msg):
            self.free.acquire()
            buf[0:size] = msg
            self.filled.release()
            self.back_filled.acquire()
            reply = bytes(buf[self.slot_size:self.slot_size + size])
            self.back_free.release()
            return reply

        rtts = timed_pings(h, round_trip)
        self.free.acquire()
        buf[0:8] = bytes(8)
        buf[self.slots * self.slot_size:self.slots * self.slot_size + 1] = b"\1"  # the quit flag
        self.filled.release()
        h.sent()
        del buf
        shm.close()
        return rtts

    def pong(self, h):
        shm = self._attach()
        buf, size, quit_at = shm.buf, h.size, self.slots * self.slot_size
        h.ready()
        while True:
            self.filled.acquire()
            if buf[quit_at]:
                break
            msg = bytes(buf[0:size])
            self.free.release()
            self.back_free.acquire()
            buf[self.slot_size:self.slot_size + size] = msg
            self.back_filled.release()
        h.finish_pong()
        del buf
        shm.close()


class Queue:
    def __init__(self, ctx, maxsize=10):
        self.q, self.back = ctx.Queue(maxsize), ctx.Queue(maxsize)

    def stream_send(self, h):
        put, payload = self.q.put, h.payload
        h.start()
        for _ in range(h.count):
            put(payload)
        h.sent()

    def stream_recv(self, h):
        get, see = self.q.get, h.see
        h.ready()
        for _ in range(h.count):
            see(get())
        h.finish()

    def ping(self, h):
        h.start()

        def round_trip(msg):
            self.q.put(msg)
            return self.back.get()

        rtts = timed_pings(h, round_trip)
        self.q.put(QUIT)
        h.sent()
        return rtts

    def pong(self, h):
        h.ready()
        while (msg := self.q.get()) != QUIT:
            self.back.put(msg)
        h.finish_pong()


class Pipe:
    def __init__(self, ctx):
        self.a, self.b = ctx.Pipe(duplex=True)

    def stream_send(self, h):
        send, payload = self.a.send_bytes, h.payload
        h.start()
        for _ in range(h.count):
            send(payload)
        h.sent()

    def stream_recv(self, h):
        recv, see = self.b.recv_bytes, h.see
        h.ready()
        for _ in range(h.count):
            see(recv())
        h.finish()

    def ping(self, h):
        a = self.a
        h.start()

        def round_trip(msg):
            a.send_bytes(msg)
            return a.recv_bytes()

        rtts = timed_pings(h, round_trip)
        a.send_bytes(QUIT)
        h.sent()
        return rtts

    def pong(self, h):
        b = self.b
        h.ready()
        while (msg := b.recv_bytes()) != QUIT:
            b.send_bytes(msg)
        h.finish_pong()
