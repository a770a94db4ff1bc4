"""One module per measure of `make bench`; each has a ``measure(...) -> dict``."""
