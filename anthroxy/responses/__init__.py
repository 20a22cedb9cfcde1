"""The OpenAI Responses API dialect: request, reply and stream translators.

The same three entry points as ``anthroxy.chat``: ``to_request``, ``from_response`` and a stream
translator, ``ResponsesStream``.
"""

from .reply import from_response
from .request import to_request
from .stream import ResponsesStream

__all__ = ["ResponsesStream", "from_response", "to_request"]
