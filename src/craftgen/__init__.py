"""craftgen: an AI image studio for crafters."""

__version__ = "0.1.0"
