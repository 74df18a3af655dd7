"""Sunshine's own shared library: configuration, persistence, messaging, auth, observability.

Imports nothing from ``services/``.
"""
