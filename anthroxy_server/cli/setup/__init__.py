"""``anthroxy config init``: the wizard (``wizard``), its questions (``prompts``), the entry for
another compatible endpoint (``endpoint``) and the user's credentials file (``key_file``)."""
