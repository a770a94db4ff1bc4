"""The package version (one place, so modules need not import the package itself)."""

__version__ = "0.1.0"
