"""The contract record every producer module lists its events with."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class EventContract:
    type: str
    topic: str
    model: builtins.type[BaseModel]
    producer: str
    consumers: tuple[str, ...]
    summary: str
    example: BaseModel  # a realistic payload: round-tripped by the contract tests
