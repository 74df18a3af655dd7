"""``/api/v1/preparedness/plans``: season plans (people to serve per town × norms, or targets
entered directly), the gap per town, and "fill the gap" transfer proposals."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/preparedness/plans", tags=["preparedness 备灾"])
