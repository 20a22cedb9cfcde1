"""``python -m anthroxy_server [COMMAND]``: the ``anthroxy`` command; with no command, serve."""

import sys

from .cli.dispatch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], no_command="serve"))
