"""Refuse bad requests early and name the value; fill every default so a run is reproducible."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from PIL import Image

from craftgen.engine.base import RequestT, Tool, ToolInput
from craftgen.engine.limits import Limits
from craftgen.engine.options import EngineOptions
from craftgen.engine.print_size import check_print_size
from craftgen.errors import InvalidRequest
from craftgen.schemas import DiffusionRequest, ToolRequest


def resolve(
    request: RequestT,
    files: Mapping[str, Image.Image],
    *,
    tool: Tool[RequestT],
    limits: Limits,
    options: EngineOptions,
) -> ToolInput[RequestT]:
    """A request with defaults filled in, checked against the limits, or InvalidRequest.
    `files` are the decoded input files by field name (`image`, `mask`)."""
    # 1. The tool's own model: its fields are exactly the ones the tool accepts (fields of
    #    other tools were refused when the request was parsed).
    if not isinstance(request, tool.request_model):
        raise InvalidRequest(f"this is not a {tool.name} request", field="tool")
    # 2. The input files, where the tool takes them: every one it declares, no other.
    check_input_files(files, tool=tool)
    if tool.needs_prompt and not getattr(request, "prompt", "").strip():
        raise InvalidRequest(f"the {tool.name} tool needs a prompt", field="prompt")
    # 3. Defaults: the engine's, then the tool's own.
    filled: dict[str, object] = {"seed": request.seed if request.seed is not None else secrets.randbelow(2**31)}
    if isinstance(request, DiffusionRequest):
        filled["model"] = request.model or options.default_model
        filled["steps"] = request.steps if request.steps is not None else options.default_steps
        filled["guidance"] = request.guidance if request.guidance is not None else options.default_guidance
    for name, value in tool.defaults(request, files.get("image"), options).items():
        if getattr(request, name) is None:
            filled[name] = value
    resolved = request.model_copy(update=filled)
    # 4. Bounds every tool shares.
    check_shared_limits(resolved, tool=tool, limits=limits)
    check_print_size(resolved, limits=limits, dpi=options.dpi)
    item = ToolInput(request=resolved, files=dict(files))
    # 5. The tool's own checks.
    tool.validate(item, limits)
    return item


def check_input_files(files: Mapping[str, Image.Image], *, tool: Tool[Any]) -> None:
    """Each input file the tool declares is there, no other is, and a mask is its image's size."""
    declared = tool.input_files
    for name, marker in declared.items():
        if files.get(name) is None and not marker.optional:
            what = "an input image" if name == "image" else f"a {name}"
            raise InvalidRequest(f"the {tool.name} tool needs {what}", field=name)
    for name, value in files.items():
        if name not in declared and value is not None:
            what = "input image" if name == "image" else name
            raise InvalidRequest(f"the {tool.name} tool takes no {what}", field=name)
    for name, marker in declared.items():
        if marker.mask_of is None:
            continue
        mask, image = files[name], files[marker.mask_of]
        if mask.size != image.size:
            raise InvalidRequest(
                f"the {name} is {mask.width}x{mask.height}; it must be the {marker.mask_of}'s size, "
                f"{image.width}x{image.height}",
                field=name,
            )


def check_shared_limits(request: ToolRequest, *, tool: Tool[Any], limits: Limits) -> None:
    max_images = min(tool.max_images or limits.max_num_images, limits.max_num_images)
    num_images = getattr(request, "num_images", 1)
    if not 1 <= num_images <= max_images:
        raise InvalidRequest(
            f"num_images must be between 1 and {max_images} for {tool.name}, got {num_images}",
            field="num_images",
        )
    for name in ("width", "height"):
        value = getattr(request, name, None)
        if value is None:
            continue
        if value % 8:
            raise InvalidRequest(f"{name} must be a multiple of 8, got {value}", field=name)
        if not limits.min_side <= value <= limits.max_side:
            raise InvalidRequest(
                f"{name} must be between {limits.min_side} and {limits.max_side}, got {value}", field=name
            )
    if not isinstance(request, DiffusionRequest):
        return
    # Characters before tokens: tokenizing costs time and memory in the text's length. Text no
    # store can keep (a NUL, a lone surrogate) is refused whichever way it came (a multipart form,
    # the CLI): a prompt is copied into the gallery's text columns when published.
    for name in ("prompt", "negative_prompt"):
        text: str = getattr(request, name)
        if len(text) > limits.max_prompt_chars:
            raise InvalidRequest(
                f"{name} is {len(text)} characters long; the limit is {limits.max_prompt_chars}", field=name
            )
        if "\x00" in text or not _encodable(text):
            raise InvalidRequest(f"{name} holds a NUL or a lone surrogate, which no text can store", field=name)
    if request.steps is not None and not 1 <= request.steps <= limits.max_steps:
        raise InvalidRequest(
            f"steps must be between 1 and {limits.max_steps}, got {request.steps}", field="steps"
        )
    if request.guidance is not None and not 0 <= request.guidance <= limits.max_guidance:
        raise InvalidRequest(
            f"guidance must be between 0 and {limits.max_guidance}, got {request.guidance}",
            field="guidance",
        )


def check_prompt_tokens(tokenizer: object, item: ToolInput[Any], *, tool: Tool[Any], limits: Limits) -> None:
    """Prompts longer than the text encoder's context would be cut silently: refuse them."""
    for name, suffix in (("prompt", tool.prompt_suffix), ("negative_prompt", tool.negative_suffix)):
        text = join_prompt(getattr(item.request, name, ""), suffix)
        if not text:
            continue
        count = len(tokenizer(text).input_ids)  # type: ignore[operator]
        if count > limits.max_prompt_tokens:
            added = f" (with the {tool.name} tool's own words)" if suffix else ""
            raise InvalidRequest(
                f"{name} is {count} tokens long{added}; the limit is {limits.max_prompt_tokens}",
                field=name,
            )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def join_prompt(text: str, suffix: str) -> str:
    """A prompt with a tool's own words after it."""
    if not suffix:
        return text
    return f"{text}, {suffix}" if text else suffix
