"""``python -m anthroxy_server.cli`` is the ``anthroxy`` command."""

import sys

from .dispatch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
