"""Where a request goes: the routing table, scenario checks, the provider catalogue and each
model's limits (the capability table)."""

from .table import Route, RoutingTable

__all__ = ["Route", "RoutingTable"]
