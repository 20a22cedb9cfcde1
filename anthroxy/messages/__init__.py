"""The Anthropic Messages API as clients speak it: building messages, folding a stream into one,
and estimating a request's input tokens."""
