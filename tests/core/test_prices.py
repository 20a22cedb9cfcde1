"""The price table: spellings of one model find its price, an unknown model has none (never
zero), the configuration wins, and every entry names its date and source page."""

from __future__ import annotations

import pytest

from anthroxy.routing.prices import PRICES, Price, cost, model_key, price_for


@pytest.mark.parametrize(
    "spelling",
    [
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "anthropic/claude-sonnet-4.5",
        "us.anthropic.claude-sonnet-4-5",
        "Claude-Sonnet-4-5@20250929",
    ],
)
def test_spellings_of_one_model_share_its_price(spelling: str) -> None:
    assert model_key(spelling) == "claude-sonnet-4-5"
    assert price_for(spelling) == PRICES["claude-sonnet-4-5"]


def test_an_unknown_model_has_no_price_and_no_cost() -> None:
    assert price_for("mystery-model") is None
    assert price_for(None) is None
    assert cost(None, 1000, 1000) is None
    assert cost(PRICES["claude-haiku-4-5"], None, None) is None  # no counts: unknown too


def test_the_configuration_wins() -> None:
    mine = Price(1.0, 2.0, date="config", source="config")
    assert price_for("claude-haiku-4-5", {"claude-haiku-4-5": mine}) is mine
    assert price_for("claude-haiku-4-5-20251001", {"claude-haiku-4-5": mine}) is mine
    assert price_for("odd/thing", {"odd/thing": mine}) is mine


def test_cost_per_kind_of_token() -> None:
    haiku = PRICES["claude-haiku-4-5"]  # $1 in, $5 out, $0.10 read, $1.25 write
    assert cost(haiku, 10**6, 10**6, 10**6, 10**6) == pytest.approx(1 + 5 + 0.10 + 1.25)
    plain = Price(2.0, 4.0)  # no cache prices: cache tokens at the input price
    assert cost(plain, 0, 0, 10**6, 10**6) == pytest.approx(4.0)


def test_every_price_names_its_date_and_page() -> None:
    for model, price in PRICES.items():
        assert price.date.count("-") == 2, model
        assert price.source.startswith("https://"), model
