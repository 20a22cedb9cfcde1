"""What a reply translator needs to remember from the request it answers.

``to_request`` of every dialect returns the upstream body together with a ReplyContext; the
matching ``from_response`` and stream translator take that context. ``to_request`` builds it
complete, from the request and what the caller passes in (the model name replies report, the
input estimate), and nobody changes it afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from .profile import Target
from .toolnames import ToolNames


@dataclass(frozen=True, slots=True)
class ReplyContext:
    requested_model: str  # the model name replies report (the client's, unless the caller says)
    target: Target  # where the request went
    tool_names: ToolNames  # maps the upstream's function names back to the client's originals
    stop_sequences: tuple[str, ...] = ()  # to report which one matched, when the upstream says
    thinking: bool = False  # the client asked for thinking (enabled or adaptive)
    input_tokens_estimate: int = 0  # shown in message_start before the upstream reports usage
    # ``thinking.display: "omitted"``: thinking blocks go out without their text (signature kept)
    omit_thinking: bool = False
