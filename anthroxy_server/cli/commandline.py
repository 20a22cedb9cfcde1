"""The words a person types before the parser sees them: aliases, ``help``, mistyped commands.

``expand`` rewrites an alias into the command it stands for (one table, ``ALIASES``), so the
parser and the handlers only know the real commands. People arriving from other tools type their
words: ``ccproxy`` users ``init``/``server``/``version``/``help``, claude-code-router users
``ccr code``. A word that is neither a command nor an alias is answered with the valid commands
and the closest ones (``unknown_command``), instead of an argparse error from another parser.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ..config.paths import CommandError

# alias -> the words it stands for
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("run",),  # claude-code-router: `ccr code`
    "init": ("config", "init"),  # ccproxy: `ccproxy init`
    "server": ("serve",),  # ccproxy: `ccproxy server`
    "version": ("--version",),
    "help": ("--help",),  # `help COMMAND` is that command's --help
}
HELP_FLAGS = ("-h", "--help", "--version")
# Options that take a value and may come before the command (`python -m anthroxy_server`'s
# server flags): their value is not a command word.
VALUE_OPTIONS = frozenset({"--config", "--host", "--port"})


def command_word(argv: Sequence[str]) -> int | None:
    """The index of the first word that is not an option (nor an option's value), or None."""
    skip = False
    for i, word in enumerate(argv):
        if skip:
            skip = False
        elif word == "--":
            return None
        elif word in VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return i
    return None


def expand(argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """``argv`` with its command word's alias replaced; an unknown word is a CommandError."""
    at = command_word(argv)
    if at is None:
        return list(argv)
    word, before, after = argv[at], list(argv[:at]), list(argv[at + 1 :])
    if word in commands:
        return list(argv)
    if word == "help" and command_word(after) is not None:
        return [*before, *expand(after, commands), "--help"]  # help COMMAND
    if word in ALIASES:
        return [*before, *ALIASES[word], *after]
    raise CommandError(unknown_command(word, commands), code=2)


def unknown_command(word: str, commands: Sequence[str]) -> str:
    words = [*commands, *ALIASES]
    close = difflib.get_close_matches(word, words, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    aliases = ", ".join(
        f"{alias} = {' '.join(words)}" for alias, words in ALIASES.items() if alias != "help"
    )
    return (
        f"unknown command {word!r}{hint}\n"
        f"  commands: {', '.join(commands)}\n"
        f"  aliases: {aliases}, help [COMMAND]\n"
        "  `anthroxy help COMMAND` explains one"
    )


def serve_args(argv: Sequence[str], *, no_command_serves: bool) -> list[str] | None:
    """The server's arguments when the command line asks for the foreground server, else None.

    ``serve --help`` is left to the parser (it shows the example). With no command word at all,
    ``python -m anthroxy_server`` serves (``no_command_serves``) while ``anthroxy`` shows help."""
    if any(word in HELP_FLAGS for word in argv):
        return None
    at = command_word(argv)
    if at is not None and argv[at] == "serve":  # `--debug serve` as well as `serve --debug`
        return [*argv[:at], *argv[at + 1 :]]
    if no_command_serves and at is None:
        return list(argv)
    return None
