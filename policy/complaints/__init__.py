"""The complaints register (Code of Practice, Measure 1.5)."""
