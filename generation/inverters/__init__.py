"""Inverters propose broken variants of a gold environment: the fault catalog (``catalog``), a model with
tools in a sandbox (``agent``), both behind the protocol in ``base``."""
