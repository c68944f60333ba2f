"""Requests as callers send them: the union of every tool's request model, keyed on `tool`.

`GenerateRequest` is the API's body type (its OpenAPI schema is one model per tool, with a
discriminator); `parse_request` turns a plain mapping (the CLI's options, a test's fields)
into the tool's own model or an InvalidRequest naming the field; `stored_request` reads a job
row back. Every pydantic error becomes one sentence here, for the API and the CLI alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError

from craftgen.engine.tools import TOOLS
from craftgen.errors import InvalidRequest
from craftgen.schemas import ToolRequest

_MODELS = tuple(tool.request_model for tool in TOOLS.values())

if TYPE_CHECKING:
    GenerateRequest = ToolRequest
else:
    GenerateRequest = Annotated[Union[_MODELS], Field(discriminator="tool")]  # noqa: UP007 - a runtime tuple

ALL_FIELDS: frozenset[str] = frozenset(name for model in _MODELS for name in model.model_fields)
_ADAPTER: TypeAdapter[ToolRequest] = TypeAdapter(GenerateRequest)


def parse_request(data: Mapping[str, object]) -> ToolRequest:
    """The tool's own request model for `data`, or InvalidRequest naming the first bad field."""
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as error:
        first = error.errors()[0]
        field, message = describe_error(dict(first), tuple(first["loc"]))
        raise InvalidRequest(message, field=field) from None


def stored_request(data: Mapping[str, object]) -> ToolRequest:
    """A job row's request, validated when it was submitted. Rows written before each tool had
    its own model hold every field of every tool; the ones this tool does not take are dropped."""
    tool = TOOLS.get(str(data.get("tool")))
    if tool is None:
        raise InvalidRequest(f"unknown tool {data.get('tool')!r}", field="tool")
    return tool.request_model.model_validate({k: v for k, v in data.items() if k in tool.fields})


def describe_error(error: Mapping[str, Any], loc: Sequence[str | int]) -> tuple[str | None, str]:
    """The field a pydantic error is about and one sentence for it, naming the value sent.
    `loc` is the error's location within the request (a union member's tag first, if any)."""
    kind = str(error.get("type", ""))
    if kind == "union_tag_invalid":
        tag = (error.get("ctx") or {}).get("tag")
        return "tool", f"unknown tool {tag!r}; choose one of {', '.join(repr(name) for name in TOOLS)}"
    if kind == "union_tag_not_found":
        return "tool", "tool is required"
    tool = None
    if len(loc) > 1 and loc[0] in TOOLS:
        tool, loc = str(loc[0]), loc[1:]
    field = ".".join(str(part) for part in loc) or None
    return field, _sentence(error, field, tool=tool)


def _sentence(error: Mapping[str, Any], field: str | None, *, tool: str | None) -> str:
    kind = error.get("type", "")
    if field is None:
        if kind == "missing":
            return "the request body is required (a JSON object)"
        return "the request body must be a JSON object sent as application/json"
    if kind == "missing":
        return f"{field} is required"
    if kind == "extra_forbidden":
        if tool is not None and field in ALL_FIELDS:
            return f"{field} does not apply to the {tool} tool"
        return f"unknown field {field!r}"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
        return f"{field}: {message}, got {value!r}"
    return f"{field}: {message}"
