"""Questions and answers for ``config init``: every answer is checked when it is given.

``Prompter.ask_until`` asks again, saying why, until ``parse`` accepts the answer; an answer that
is not one of the choices is never taken for the default (only an empty answer is). End of input
is a clean error: nothing has been written yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

from ...config.paths import CommandError

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderChoice:
    """One provider as the answers describe it (only what differs from the catalogue is set)."""

    id: str
    key_env: str | None = None  # a variable other than the catalogue's own
    key: str | None = field(default=None, repr=False)  # a pasted key (see wizard.place_keys)
    # Another OpenAI- or Anthropic-compatible endpoint (not in the catalogue):
    api: str | None = None
    base_url: str | None = None
    auth: str | None = None  # "none" for a server without keys
    models: tuple[str, ...] = ()
    # Other keys of the provider's table (a cloud provider's project and location).
    settings: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None  # auth = "bedrock": when the environment names none


class Prompter:
    """Questions on ``out``, answers from ``inp``."""

    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self.inp, self.out = inp, out

    def ask(self, question: str, default: str | None = None) -> str:
        suffix = f" [{default}]" if default else ""
        self.out.write(f"{question}{suffix}: ")
        self.out.flush()
        line = self.inp.readline()
        if not line:
            raise CommandError("input ended before the wizard finished; nothing was written")
        return line.strip() or (default or "")

    def ask_until(self, question: str, default: str | None, parse: Callable[[str], T]) -> T:
        """Ask until ``parse`` returns; its ValueError is shown and the question asked again."""
        while True:
            try:
                return parse(self.ask(question, default))
            except ValueError as exc:
                self.say(f"  {exc}; try again")

    def choose(self, question: str, choices: Mapping[str, str], default: str) -> str:
        """One of ``choices`` (answer word -> value); anything else is asked again."""

        def parse(answer: str) -> str:
            if answer.lower() in choices:
                return choices[answer.lower()]
            raise ValueError(f"answer one of: {', '.join(choices)}")

        return self.ask_until(question, default, parse)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")


YES_NO = {"y": "y", "yes": "y", "n": "n", "no": "n"}
