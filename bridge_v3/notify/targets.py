"""Where a notification goes, and what the request looks like for each kind of endpoint.

``NOTIFY_URLS`` items are recognised by their address (``hooks.slack.com``,
``discord.com/api/webhooks``, ``api.telegram.org/bot<token>/sendMessage?chat_id=<id>``);
anything else is a generic JSON webhook. ``slack+``, ``discord+``, ``telegram+`` or
``json+`` before the scheme forces a form (a Mattermost or Rocket.Chat hook takes Slack's).
A URL holds its token: only ``label`` (kind and host) is ever shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit, urlunsplit

KINDS = ("json", "slack", "discord", "telegram")
_MAX_TEXT = {"slack": 3_000, "discord": 1_900, "telegram": 4_000, "json": 10_000}


@dataclass(frozen=True)
class Note:
    """One notification: ``event`` (a word: ``risk``, ``fill``, ``order``, ``dependency``,
    ``bridge``), ``severity`` (info, warning, critical), a title and a sentence or two."""

    event: str
    severity: str
    title: str
    text: str
    fields: dict = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True, repr=False)
class Target:
    kind: str
    url: str

    def __repr__(self) -> str:
        return f"Target({self.label})"

    @property
    def label(self) -> str:
        return f"{self.kind} webhook at {urlsplit(self.url).hostname}"

    def request(self, note: Note, source: str, account: int | None) -> tuple[str, bytes]:
        """(the URL to POST to, the JSON body) for ``note``."""
        text = f"{note.title}\n{note.text}"[: _MAX_TEXT[self.kind]]
        if self.kind == "slack":
            return self.url, _json({"text": f"[{source}] {text}"})
        if self.kind == "discord":
            return self.url, _json({"content": f"[{source}] {text}"})
        if self.kind == "telegram":
            parts = urlsplit(self.url)
            chat = parse_qs(parts.query).get("chat_id", [""])[0]
            plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            return plain, _json({"chat_id": chat, "text": f"[{source}] {text}"})
        body = {
            "event": note.event,
            "severity": note.severity,
            "title": note.title,
            "text": note.text,
            "fields": note.fields,
            "source": source,
            "account": account,
            "time": note.time.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        return self.url, _json(body)


def _json(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


def parse_targets(urls: str) -> list[Target]:
    """``NOTIFY_URLS`` (already validated) as targets."""
    return [_target(url.strip()) for url in urls.split(",") if url.strip()]


def _target(url: str) -> Target:
    head, _, rest = url.partition("+")
    if head.lower() in KINDS and "://" in rest:
        return Target(head.lower(), rest)
    parts = urlsplit(url)
    host, path = (parts.hostname or "").lower(), parts.path
    if host == "hooks.slack.com":
        return Target("slack", url)
    if host in ("discord.com", "discordapp.com") and path.startswith("/api/webhooks/"):
        return Target("discord", url)
    if host == "api.telegram.org" and "/bot" in path:
        return Target("telegram", url)
    return Target("json", url)
