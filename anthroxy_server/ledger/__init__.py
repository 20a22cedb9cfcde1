"""The usage ledger: one SQLite row per request (``store.py``), written by the gateway
(``hook.py``) and read by ``anthroxy usage`` and the MCP status tool (``report.py``)."""
