"""The hooks' view of their settings: `[hooks]` with the public URL resolved.

The hook endpoint, queue and write-back take this small object rather than the whole Settings,
so tests can vary one value without building a configuration.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import define


@define
class HookSettings:
    """What the hook endpoint, the hook queue and the write-back read."""

    #: Shared secret the post-consume script and webhooks send; empty refuses every hook call.
    token: str = attrs.field(default="", repr=False)
    #: Tag and note the new document in Paperless when it is a likely duplicate.
    write_back: bool = True
    #: Name of the tag write-back adds (created when missing).
    tag: str = "duplicate"
    #: Base URL links in notes point at; empty means the server's own address.
    public_url: str = ""
    #: Concurrent hook workers (each keeps its own fetch source open).
    workers: int = 2
    #: Attempts before an event is marked failed.
    max_attempts: int = 3
    #: Event ids held in memory; more stay pending in the database until there is room.
    queue_size: int = 1000

    @classmethod
    def from_settings(cls, settings: Any) -> HookSettings:
        """The `[hooks]` section, with an empty public URL resolved to the server's address."""
        section = settings.hooks
        return cls(
            token=section.token,
            write_back=section.write_back,
            tag=section.tag or "duplicate",
            public_url=(section.public_url or server_address(settings)).rstrip("/"),
            workers=section.workers,
            max_attempts=section.max_attempts,
            queue_size=section.queue_size,
        )

    def group_url(self, group_id: str) -> str:
        """The dupeless link a note names for a group."""
        return f"{self.public_url}/api/v1/duplicates/{group_id}"


def server_address(settings: Any) -> str:
    """The server's own base URL, from `[server] host` and `port` (a wildcard host reads as
    localhost: set DUPELESS_PUBLIC_URL for links that work elsewhere)."""
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"
