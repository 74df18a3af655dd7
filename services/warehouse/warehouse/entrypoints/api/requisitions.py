"""``/api/v1/requisitions``: a town station's requisitions (请领) and the district's decision."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/requisitions", tags=["preparedness 备灾"])
