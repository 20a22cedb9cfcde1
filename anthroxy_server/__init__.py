"""anthroxy_server: the aiohttp gateway around the ``anthroxy`` core (config, app, CLI).

``create_app(settings)`` builds the web application; ``python -m anthroxy_server`` runs it.
"""

from anthroxy import __version__

__all__ = ["__version__"]
