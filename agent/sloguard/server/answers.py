"""The shapes of the agent's own answers (health, readiness, errors), so the OpenAPI document
describes every response the API gives."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    reason: str = Field(description="Why the agent is (not) ready.")
    definitions_error: str | None = Field(
        description="Why the definitions last failed to load, while the previous ones are kept."
    )


class Problem(BaseModel):
    """A request the agent could not answer as asked."""

    detail: str


class FieldProblem(BaseModel):
    type: str
    loc: list[str | int] = Field(description="Where in the request: `body`, then field names.")
    msg: str


class Invalid(BaseModel):
    """A body that is not a request of this shape: each field and why."""

    detail: list[FieldProblem]
