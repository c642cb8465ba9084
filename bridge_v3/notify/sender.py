"""One endpoint's queue and thread: notes are posted in order, each with a timeout, at a
bounded rate, retried a few times and then dropped with a log line.

``offer`` never blocks: a full queue drops the note (counted, one WARNING until the queue
has room again). Waiting (the rate limit, the pause before a retry) happens on the stop
event, so ``stop`` ends it at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bridge_v3.notify.targets import Note, Target

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """How hard to try: ``timeout`` per request (s), ``attempts`` per note with ``pauses``
    between them (s), at most ``per_minute`` notes (bursts of ``burst``), ``queue_size``."""

    timeout: float = 5.0
    attempts: int = 3
    pauses: tuple[float, ...] = (2.0, 8.0)
    per_minute: float = 20.0
    burst: int = 5
    queue_size: int = 200


Post = Callable[[str, bytes, float], int]


def http_post(url: str, body: bytes, timeout: float) -> int:
    """POST JSON; the status code. Network errors raise OSError (URLError is one)."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.status


class TargetSender:
    def __init__(
        self,
        target: Target,
        source: str,
        account: int | None,
        *,
        policy: Policy | None = None,
        post: Post = http_post,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self._source = source
        self._account = account
        self._policy = policy = policy or Policy()
        self._post = post
        self._clock = clock
        self._queue: queue.Queue[Note] = queue.Queue(policy.queue_size)
        self._stop = threading.Event()
        self._tokens = float(policy.burst)
        self._filled_at = clock()
        self._overflowing = False
        self.counts: Counter[str] = Counter()  # queued, sent, failed, dropped, retried
        self.busy = threading.Event()  # set while a request is in flight
        self._thread = threading.Thread(target=self._run, name=f"notify-{target.kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, note: Note) -> bool:
        """Queue ``note`` without waiting; False (counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(note)
        except queue.Full:
            self.counts.update(dropped=1)
            if not self._overflowing:
                self._overflowing = True
                logger.warning(
                    "Notifications to %s are backing up: new ones dropped", self.target.label
                )
            return False
        self._overflowing = False
        self.counts.update(queued=1)
        return True

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout: float) -> None:
        """Send what is queued for up to ``timeout`` seconds, then leave the rest."""
        deadline = self._clock() + timeout
        while self._queue.qsize() and self._clock() < deadline and self._thread.is_alive():
            self._stop.wait(0.05)
        self._stop.set()
        self._thread.join(max(0.0, deadline - self._clock()) + 0.1)

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                note = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if self._take_token():
                self._deliver(note)

    def _take_token(self) -> bool:
        """Wait for the rate limit to allow a note (False: stopping)."""
        policy = self._policy
        while True:
            now = self._clock()
            refill = (now - self._filled_at) * policy.per_minute / 60.0
            self._tokens, self._filled_at = min(policy.burst, self._tokens + refill), now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            if self._stop.wait((1 - self._tokens) * 60.0 / policy.per_minute):
                return False

    def _deliver(self, note: Note) -> None:
        url, body = self.target.request(note, self._source, self._account)
        error: object = None
        for attempt in range(self._policy.attempts):
            if attempt:
                self.counts.update(retried=1)
                pause = self._policy.pauses[min(attempt - 1, len(self._policy.pauses) - 1)]
                if self._stop.wait(pause):
                    break
            error = self._attempt(url, body)
            if error is None:
                self.counts.update(sent=1)
                return
            if (
                isinstance(error, urllib.error.HTTPError)
                and 400 <= error.code < 500
                and error.code != 429
            ):
                break  # the endpoint refuses this note: trying again changes nothing
        self.counts.update(failed=1)
        logger.warning(
            "Notification %r to %s dropped (%s)", note.title, self.target.label, _said(error)
        )

    def _attempt(self, url: str, body: bytes) -> object:
        self.busy.set()
        try:
            status = self._post(url, body, self._policy.timeout)
        except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts are OSErrors
            return error
        finally:
            self.busy.clear()
        return None if 200 <= status < 300 else f"HTTP {status}"


def _said(error: object) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__
