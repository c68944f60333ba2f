"""OpenAI Images request and response bodies, as the official SDKs send and read them.

Parameters craftgen has no use for (`user`, `style`, `moderation`, ...) are accepted and
ignored, as a drop-in must; every parameter that changes the picture is honoured or refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Quality = Literal["low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"]
Background = Literal["transparent", "opaque", "auto"]
OutputFormat = Literal["png", "webp", "jpeg", "svg"]
ResponseFormat = Literal["url", "b64_json"]


def _blank_is_none(value: object) -> object:
    # Multipart forms send every field as text; an empty one means "not given".
    return None if value == "" else value


BlankIsNone = BeforeValidator(_blank_is_none)

SizeField = Annotated[
    str | None,
    BlankIsNone,
    Field(description="`WIDTHxHEIGHT` in pixels (multiples of 8, within the limits) or `auto`: the model's size"),
]
CountField = Annotated[int | None, BlankIsNone, Field(description="how many images (craftgen's num_images); default 1")]
ModelField = Annotated[
    str | None,
    BlankIsNone,
    Field(description="a craftgen model (GET /v1/models); OpenAI's names (dall-e-3, gpt-image-1, ...) run the default"),
]
FormatField = Annotated[
    ResponseFormat | None, BlankIsNone, Field(description="b64_json (default): the bytes inline; url: a signed link")
]


class OpenAIRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: ModelField = None
    n: CountField = None
    size: SizeField = None
    response_format: FormatField = None
    quality: Annotated[
        Quality | None,
        BlankIsNone,
        Field(description="low: fast mode (DeepCache); medium/auto: default steps; high/hd: 2x; xhigh/max: 3x"),
    ] = None
    output_format: Annotated[
        OutputFormat | None, BlankIsNone, Field(description="png (default), webp, jpeg, or svg: the SVG cut file")
    ] = None
    # The bounds sit on the int itself: on the union they would be applied to None too (a
    # TypeError, not a validation error, when a form sends the field empty).
    output_compression: Annotated[
        Annotated[int, Field(ge=0, le=100)] | None, BlankIsNone, Field(description="webp/jpeg: 0-100")
    ] = None
    background: Annotated[
        Background | None,
        BlankIsNone,
        Field(description="transparent: craftgen's clipart tool (PNG with alpha, SVG cut file); opaque/auto: text"),
    ] = None
    stream: Annotated[
        bool | None, BlankIsNone, Field(description="server-sent events: partial images, then the result")
    ] = None
    partial_images: Annotated[
        Annotated[int, Field(ge=0, le=3)] | None,
        BlankIsNone,
        Field(description="how many live previews to stream before the result"),
    ] = None


class GenerationRequest(OpenAIRequest):
    """POST /v1/images/generations."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"prompt": "a smiling strawberry sticker", "n": 2, "size": "512x512", "background": "transparent"},
                {"prompt": "strawberries and daisies", "response_format": "url", "output_format": "webp"},
            ]
        },
    )

    prompt: Annotated[str, Field(description="what to make")]


class EditRequest(OpenAIRequest):
    """The text fields of POST /v1/images/edits (multipart, beside `image` and `mask`)."""

    prompt: Annotated[str, Field(description="what to make of the image (or of its masked part)")]


class VariationRequest(OpenAIRequest):
    """The text fields of POST /v1/images/variations (multipart, beside `image`)."""

    prompt: Annotated[str, BlankIsNone, Field(description="craftgen extra: what to steer the variations towards")] = ""


class ImageData(BaseModel):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(BaseModel):
    created: int
    data: list[ImageData]
    background: Literal["transparent", "opaque"] | None = None
    output_format: OutputFormat | None = None
    quality: str | None = None
    size: str | None = None
