"""Providers' live model lists: fetched in the background, cached on disk for 24 hours, and
what ``provider/@auto[:hint]`` targets resolve to (docs/configuration.md, "Live model lists
and @auto").

``cache.py`` holds the files, ``store.py`` the lists in memory, their refreshes and the
``@auto`` resolution, ``app.py`` the server's side (start-up refresh, ``/healthz``,
``POST /anthroxy/refresh``).
"""
