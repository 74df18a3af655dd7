"""``/api/v1/preparedness``: consumption (AMC), months of stock, reorder suggestions, stock
policies and the near-expiry rotation list (smart preparedness, 智慧备灾)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/preparedness", tags=["preparedness 备灾"])
