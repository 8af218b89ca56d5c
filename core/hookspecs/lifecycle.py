"""lifecycle: moments in the host's life that are not a pipeline stage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import hookspec

if TYPE_CHECKING:
    from ..config import Settings


@hookspec
def dupeless_startup(settings: Settings) -> None:
    """Get ready for work once the host has started (the built-ins start their process pool)."""
