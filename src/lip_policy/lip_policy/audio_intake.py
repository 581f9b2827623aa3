"""Audio chunks from the subscription to the policy's worker (no rclpy).

The subscription callback only hands chunks over (ChunkInbox.put: an append and a notify),
so a busy worker never makes DDS drop or delay audio; the worker takes everything that
arrived in one go. Between the two sits the Reorder buffer: chunks sorted by playback time,
and a chunk after a gap is held back while the missing audio can still arrive in time
(chunks sent ahead of playback, look-ahead, can be reordered or repeated on the way);
when the gap's audio is due it is given up as lost and the policy fills its place.
"""

import threading


class ChunkInbox:
    """Thread-safe hand-over: put() from the callback, take() from the worker."""

    def __init__(self):
        self._items = []
        self._ready = threading.Condition()

    def put(self, chunk, arrived):
        """A received chunk and its arrival time [s] on the policy's clock."""
        with self._ready:
            self._items.append((chunk, arrived))
            self._ready.notify()

    def take(self, timeout):
        """Everything that arrived, oldest first, waiting up to timeout [s] for something."""
        with self._ready:
            if not self._items and timeout > 0:
                self._ready.wait(timeout)
            items, self._items = self._items, []
        return items

    def wake(self):
        """Make a waiting take() return now (shutdown)."""
        with self._ready:
            self._ready.notify_all()

    def __len__(self):
        return len(self._items)


class Reorder:
    """Accepted chunks (lip_command.Arrival) in playback order, gaps held until due.

    take(expected, now) returns the chunks to push now: every chunk up to the first gap
    after `expected` (the playback time the policy's stream has reached, None when it has
    none), and a chunk after a gap once its playback time is less than `lead` [s] away,
    when waiting longer would make its frames late (lead = the actuator lag the commands
    run ahead by, plus a margin for the compute). A gap longer than max_gap is not lost
    audio but a new stream, which is not held.
    """

    def __init__(self, lead, tolerance, max_gap):
        self.lead = lead  # [s]
        self.tolerance = tolerance  # [s] stamp jitter that still counts as contiguous
        self.max_gap = max_gap  # [s]
        self.held = []  # (Arrival, arrival time [s])

    def add(self, arrival, arrived):
        self.held.append((arrival, arrived))

    def take(self, expected, now):
        """-> (chunks to push now in playback order, arrival time of the oldest of them)."""
        self.held.sort(key=lambda item: item[0].stamp)
        ready = 0
        for arrival, _ in self.held:
            gap = expected is not None and \
                self.tolerance < arrival.stamp - expected <= self.max_gap
            if gap and arrival.stamp - now > self.lead:
                break  # the missing audio may still come; its frames are not due yet
            end = arrival.stamp + len(arrival.mono) / arrival.rate
            expected = end if expected is None else max(expected, end)
            ready += 1
        taken, self.held = self.held[:ready], self.held[ready:]
        oldest = min((arrived for _, arrived in taken), default=None)
        return [arrival for arrival, _ in taken], oldest

    def __len__(self):
        return len(self.held)

    def seconds(self):
        """[s] of audio held back."""
        return sum(len(a.mono) / a.rate for a, _ in self.held)

