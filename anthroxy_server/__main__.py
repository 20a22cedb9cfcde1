"""``python -m anthroxy_server [SUBCOMMAND]``: the ``anthroxy`` command (no subcommand = serve)."""

import sys

from .cli.dispatch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
