"""Every note to every endpoint, each through its own sender (queue, thread, rate limit)."""

from __future__ import annotations

import logging
from collections import Counter

from bridge_v3.notify.sender import Policy, Post, TargetSender, http_post
from bridge_v3.notify.targets import Note, Target

logger = logging.getLogger(__name__)


class Notifier:
    """``notify(note)`` returns at once, whatever the endpoints do. No targets: nothing."""

    def __init__(
        self,
        targets: list[Target],
        source: str,
        account: int | None,
        *,
        policy: Policy | None = None,
        post: Post = http_post,
    ) -> None:
        self.senders = [
            TargetSender(target, source, account, policy=policy or Policy(), post=post)
            for target in targets
        ]
        self.started = False

    def start(self) -> None:
        for sender in self.senders:
            sender.start()
        self.started = bool(self.senders)
        if self.senders:
            labels = ", ".join(sender.target.label for sender in self.senders)
            logger.info("Notifications go to %s", labels)

    def notify(self, note: Note) -> None:
        for sender in self.senders:
            sender.offer(note)

    def counts(self) -> Counter:
        total: Counter = Counter()
        for sender in self.senders:
            total.update(sender.counts)
        return total

    def stop(self, timeout: float = 3.0) -> None:
        """Send what waits for up to ``timeout`` seconds in all (the last notes: the stop)."""
        if not self.started:
            return
        share = timeout / len(self.senders)
        for sender in self.senders:
            sender.stop(share)
