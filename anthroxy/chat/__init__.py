"""The OpenAI Chat Completions dialect: request, reply and stream translators.

``to_request(request, target)`` builds the upstream body and the ReplyContext from a parsed
``messages.request.MessagesRequest`` (or a raw body, parsed first); ``from_response``
turns a whole reply into an Anthropic message; ``ChatStream`` translates a stream.
"""

from .reply import from_response
from .request import to_request
from .stream import ChatStream

__all__ = ["ChatStream", "from_response", "to_request"]
