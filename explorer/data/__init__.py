"""Data sets the explorer runs models on (downloaded once, cached on disk)."""
