"""The Anthropic Messages API as clients speak it: parsing a request once into a frozen value
(``request``, with ``blocks`` and ``fields``), building messages, folding a stream into one, and
estimating a request's input tokens."""
