"""What a Messages request carries, as far as scenario routing cares (docs/configuration.md,
"Routing order").

Each check is a predicate over the request body (never mutated). They are classifiers, not
validators: a body of the wrong shape simply does not match (the translator that handles the
request later reports the bad field with its JSON path), so routing never fails on input that a
later stage would have explained better. Nested values are tested for ``dict`` (what
``json.loads`` builds), not the ``Mapping`` ABC, whose ``isinstance`` is several times slower:
the image scan visits every block of a long conversation on every request.

Decisions a user notices:

* ``think`` matches ``thinking.type == "enabled"`` (the client set a thinking budget) and
  ``"adaptive"`` only with ``output_config.effort`` ``"xhigh"`` or ``"max"``. Claude Code sends
  adaptive thinking with effort ``high`` on nearly every request to a current model, so counting
  plain adaptive (whose default effort is ``high``) would send everything to the think model.
* ``web_search`` matches only Anthropic's server tool (``type`` ``web_search_<version>``, such
  as ``web_search_20250305``). Claude Code's own ``WebSearch`` is a client tool present in every
  request, so tool NAMES do not count.
* ``image`` matches an ``image`` block anywhere in ``messages``, including inside a
  ``tool_result`` (a screenshot returned by a tool).
* ``background`` matches a requested name with the tier word ``haiku`` in it (case-insensitive),
  the model Claude Code uses for its small side tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

# Fixed precedence, first match wins. long_context is a hard constraint (any other target would
# refuse the prompt), image a capability the others may lack; then the preferences.
SCENARIO_ORDER: tuple[str, ...] = ("long_context", "image", "web_search", "think", "background")
# Efforts above Claude Code's everyday ``high``: the user asked for deeper thinking.
DEEP_EFFORTS: frozenset[str] = frozenset({"xhigh", "max"})
_WEB_SEARCH_TYPE_PREFIX = "web_search_"


def has_image(request: Mapping[str, Any]) -> bool:
    """An ``image`` block in any message, directly or inside a ``tool_result``'s content."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        if isinstance(message, dict) and _blocks_have_image(message.get("content")):
            return True
    return False


def _blocks_have_image(content: Any) -> bool:
    if not isinstance(content, list):  # string content holds no image
        return False
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "image":
            return True
        # tool_result content nests one level only (the API allows text/image/... blocks there).
        if kind == "tool_result" and _blocks_have_image(block.get("content")):
            return True
    return False


def has_web_search_tool(request: Mapping[str, Any]) -> bool:
    """Anthropic's server-side web search tool among ``tools`` (not a client tool's name)."""
    tools = request.get("tools")
    if not isinstance(tools, list):
        return False
    for tool in tools:
        if isinstance(tool, dict):
            kind = tool.get("type")
            if isinstance(kind, str) and kind.startswith(_WEB_SEARCH_TYPE_PREFIX):
                return True
    return False


def wants_thinking(request: Mapping[str, Any]) -> bool:
    """Thinking explicitly enabled, or adaptive thinking with an effort above ``high``."""
    thinking = request.get("thinking")
    if not isinstance(thinking, dict):
        return False
    kind = thinking.get("type")
    if kind == "enabled":
        return True
    if kind != "adaptive":
        return False
    config = request.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return isinstance(effort, str) and effort in DEEP_EFFORTS


def is_background(model: str) -> bool:
    """A haiku-class name: Claude Code's model for titles, summaries and other side tasks."""
    return "haiku" in model.lower()


# The request-shape scenarios; long_context needs the token estimate and is handled by routing.
CHECKS: Mapping[str, Callable[[str, Mapping[str, Any]], bool]] = MappingProxyType(
    {
        "image": lambda _model, request: has_image(request),
        "web_search": lambda _model, request: has_web_search_tool(request),
        "think": lambda _model, request: wants_thinking(request),
        "background": lambda model, _request: is_background(model),
    }
)
