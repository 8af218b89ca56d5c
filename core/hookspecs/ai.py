"""AI: metadata suggestions and answers from a language model provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from . import hookspec

if TYPE_CHECKING:
    from ..config import Settings


class AIProvider(Protocol):
    """A language model behind one interface: suggest metadata, answer a question from context."""

    async def suggest_metadata(
        self, title: str, content: str, choices: dict[str, list[str]]
    ) -> dict[str, Any]:
        """Return suggested correspondent, document type and tags with a confidence for each."""

    async def answer(self, question: str, context: list[str]) -> str:
        """Answer a question from the given document excerpts."""


@hookspec(firstresult=True)
def dupeless_ai_provider(settings: Settings, plugin_config: dict[str, Any]) -> AIProvider:
    """Create the AI provider this plugin offers."""
