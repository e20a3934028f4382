"""iceoryx2's Python publish/subscribe, with an event service beside it to
wake the subscriber, as iceoryx2's event-based examples pair them: the
publisher sends a sample and notifies; the subscriber sleeps on its
listener until notified, then drains. Samples are slices of bytes that the
publisher fills in shared memory (one copy in) and the subscriber copies
out into `bytes` (one copy out), as every other contender ends. The
subscriber's buffer holds ten samples, with no overflow: a full buffer
makes the publisher wait (RetryUntilDelivered), so nothing is dropped.
"""

import ctypes
import os
import uuid

from harness import CheckFailed, timed_pings

QUIT = b""
BUFFER = 10
# The listener's sleep is bounded: a notification that comes while the
# subscriber drains can leave a sample with no wakeup after it (seen as a
# stalled run with blocking_wait), so it looks again after this long.
_WAIT = None



class Iceoryx2:
    def __init__(self, ctx):
        self.base = f"ipo-bench/{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def unavailable(self):
        import iceoryx2  # noqa: F401
        return None

    def _open(self, topic, size, publish):
        global _WAIT
        """The publisher (or subscriber) of `topic` and the notifier (or
        listener) of its event service."""
        import iceoryx2 as iox2

        iox2.set_log_level_from_env_or(iox2.LogLevel.Warn)
        _WAIT = iox2.Duration.from_millis(10)
        node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        name = iox2.ServiceName.new(f"{self.base}/{topic}")
        service = (node.service_builder(name)
                   .publish_subscribe(iox2.Slice[ctypes.c_uint8])
                   .subscriber_max_buffer_size(BUFFER)
                   .history_size(0)
                   .enable_safe_overflow(False)
                   .open_or_create())
        event = node.service_builder(name).event().open_or_create()
        if publish:
            port = (service.publisher_builder()
                    .initial_max_slice_len(max(size, 1))
                    .backpressure_strategy(iox2.BackpressureStrategy.RetryUntilDelivered)
                    .create())
            bell = event.notifier_builder().create()
        else:
            port = service.subscriber_builder().buffer_size(BUFFER).create()
            bell = event.listener_builder().create()
        return node, service, event, port, bell

    @staticmethod
    def _publish(publisher, notifier, data):
        sample = publisher.loan_slice_uninit(len(data))
        # The slice's memoryview has the format '<B', which memoryview
        # assignment rejects: copy with memmove into the sample's memory.
        ctypes.memmove(sample.payload_ptr, data, len(data))
        sample.assume_init().send()
        notifier.notify()

    @staticmethod
    def _take(subscriber, listener):
        """The next sample as `bytes`, sleeping on the listener while there is none."""
        waits = 0
        while True:
            sample = subscriber.receive()
            if sample is not None:
                data = ctypes.string_at(sample.payload_ptr, sample.payload().len())
                sample.delete()  # give the slot back now
                return data
            listener.timed_wait(_WAIT)
            waits += 1
            if waits > 1000:  # 10 s with nothing: a sample went missing, fail rather than hang
                raise CheckFailed("no sample for 10 s: a sample sent was never received")

    def stream_send(self, h):
        keep = self._open("stream", h.size, publish=True)
        publisher, notifier = keep[3], keep[4]
        publish, payload = self._publish, h.payload
        h.start()
        for _ in range(h.count):
            publish(publisher, notifier, payload)
        h.sent()

    def stream_recv(self, h):
        keep = self._open("stream", h.size, publish=False)
        subscriber, listener = keep[3], keep[4]
        take, see = self._take, h.see
        h.ready()
        for _ in range(h.count):
            see(take(subscriber, listener))
        h.finish()

    def ping(self, h):
        keep_out = self._open("ping", h.size, publish=True)
        keep_in = self._open("pong", h.size, publish=False)
        (publisher, notifier), (subscriber, listener) = keep_out[3:5], keep_in[3:5]
        h.start()

        def round_trip(msg):
            self._publish(publisher, notifier, msg)
            return self._take(subscriber, listener)

        rtts = timed_pings(h, round_trip)
        self._publish(publisher, notifier, QUIT)
        h.sent()
        return rtts

    def pong(self, h):
        keep_in = self._open("ping", h.size, publish=False)
        keep_out = self._open("pong", h.size, publish=True)
        (subscriber, listener), (publisher, notifier) = keep_in[3:5], keep_out[3:5]
        h.ready()
        while (msg := self._take(subscriber, listener)) != QUIT:
            self._publish(publisher, notifier, msg)
        h.finish_pong()
