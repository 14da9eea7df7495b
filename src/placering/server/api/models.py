"""What API models share: text as the CLI takes it (no NUL, control character or lone surrogate:
refused, not stripped, as boundary.py does for every other input)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from ...boundary import bad_character
from ...errors import Problem, ValidationError


def _no_control(value: str) -> str:
    problem = bad_character(value)
    if problem:
        raise PydanticCustomError("control_character", str(problem).replace("{", "{{").replace("}", "}}"),
                                  {"said": problem})  # the Message, said in the request's language
    return value


Text = Annotated[str, AfterValidator(_no_control)]


async def check_inputs(request: Request) -> None:
    """Every path and query parameter is input: a control character, NUL or lone surrogate is
    refused (422) before any route sees it (PostgreSQL would refuse a NUL with an error)."""
    problems = []
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        problem = bad_character(str(value))
        if problem:
            problems.append(Problem(problem, field=name))
    if problems:
        raise ValidationError(problems)
