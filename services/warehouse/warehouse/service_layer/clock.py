"""The warehouse's clock, as the service layer reads it: :mod:`warehouse.domain.clock`.

It lives in the domain so that the commands' default times (``received_at``, ``requested_at``,
``counted_at``) read the same clock as the service functions: a request made inside
``clock.travel(...)`` books every row of it at the travelled time.
"""

from __future__ import annotations

from warehouse.domain.clock import now, travel

__all__ = ["now", "travel"]
