"""A tiny stock-keeping tool."""

__version__ = "1.0.0"
