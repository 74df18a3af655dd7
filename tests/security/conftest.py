"""The outside probe (issue 13) as a suite: each class of weakness it found stays closed.

Tests that need the real HTTP server (body streaming, header bounds, proxy headers) use the
three services as real processes (``stack``, from the e2e suite); the others build the apps
in-process like the integration tests.
"""

from __future__ import annotations

from tests.e2e.conftest import Stack, stack, token

__all__ = ["Stack", "stack", "token"]
