"""Training entry points (`python -m explorer train ...`)."""
