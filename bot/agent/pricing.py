"""What a Claude call costs: a price table per model family, applied to the API's usage.

The dollar budget of an investigation is enforced from these prices, so an unknown
model must not silently cost nothing: it is priced like a current Sonnet and flagged.
Prices are USD per million tokens on the Claude API (platform.claude.com pricing page,
November 2026); Bedrock sets its own, usually equal, prices. Cache writes are the
five-minute kind, the only kind the agent asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import Usage


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float
    known: bool = True

    def cost(self, usage: Usage) -> float:
        """Dollars for one call's (or a sum of calls') usage."""
        dollars = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        ) / 1_000_000
        return round(dollars, 6)


# (family, major, minor or None for "any other minor") -> price; first match wins.
_TABLE: list[tuple[str, int, int | None, Price]] = [
    ("fable", 5, 1, Price(10.0, 50.0, 12.5, 0.25)),
    ("mythos", 5, 1, Price(10.0, 50.0, 12.5, 0.25)),
    ("fable", 5, None, Price(10.0, 50.0, 12.5, 1.0)),
    ("mythos", 5, None, Price(10.0, 50.0, 12.5, 1.0)),
    ("opus", 5, 5, Price(4.0, 20.0, 5.0, 0.20)),
    ("opus", 5, None, Price(5.0, 25.0, 6.25, 0.50)),
    ("opus", 4, 1, Price(15.0, 75.0, 18.75, 1.50)),
    ("opus", 4, 0, Price(15.0, 75.0, 18.75, 1.50)),
    ("opus", 4, None, Price(5.0, 25.0, 6.25, 0.50)),  # 4.5 to 4.8
    ("opus", 3, None, Price(15.0, 75.0, 18.75, 1.50)),
    ("sonnet", 5, None, Price(2.0, 10.0, 2.50, 0.20)),  # 5 and 5.5
    ("sonnet", 4, None, Price(3.0, 15.0, 3.75, 0.30)),
    ("sonnet", 3, None, Price(3.0, 15.0, 3.75, 0.30)),
    ("haiku", 5, None, Price(0.10, 0.50, 0.125, 0.01)),  # up to 100k-token prompts
    ("haiku", 4, None, Price(1.0, 5.0, 1.25, 0.10)),
    ("haiku", 3, 5, Price(0.80, 4.0, 1.0, 0.08)),
    ("haiku", 3, None, Price(0.25, 1.25, 0.30, 0.03)),
]
UNKNOWN = Price(3.0, 15.0, 3.75, 0.30, known=False)

# `claude-sonnet-4-5-20250929`, `us.anthropic.claude-opus-4-1-20250805-v1:0`: the minor
# version is one digit, so a date suffix is not taken for it.
_NEW_STYLE = re.compile(r"(fable|mythos|opus|sonnet|haiku)-(\d{1,2})(?!\d)(?:-(\d)(?!\d))?")
# `claude-3-5-haiku-20241022`, `anthropic.claude-3-haiku-20240307-v1:0`.
_OLD_STYLE = re.compile(r"claude-(\d)(?:-(\d))?-(opus|sonnet|haiku)")


def price_for(model: str) -> Price:
    """The price of a model id from the API, Bedrock (with an inference-profile prefix) or
    Vertex; `UNKNOWN` (a Sonnet price, `known=False`) when the family is not recognised."""
    name = model.lower()
    if match := _NEW_STYLE.search(name):
        family, major, minor = match.group(1), int(match.group(2)), match.group(3)
    elif match := _OLD_STYLE.search(name):
        family, major, minor = match.group(3), int(match.group(1)), match.group(2)
    else:
        return UNKNOWN
    wanted = int(minor) if minor is not None else 0
    for fam, maj, mino, price in _TABLE:
        if fam == family and maj == major and (mino is None or mino == wanted):
            return price
    return UNKNOWN


def cost(model: str, usage: Usage) -> float:
    return price_for(model).cost(usage)
