"""The HTTP gateway: the aiohttp app, its endpoints, the relay to upstreams, the stream pump,
upstream sessions, fallback chains, circuit breakers and logging."""
