"""Wire models of the newer resources, a module each (``server/models.py`` holds the rest)."""
