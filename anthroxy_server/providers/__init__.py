"""Providers that need more than a base URL and a key (credentials, headers, endpoints)."""
