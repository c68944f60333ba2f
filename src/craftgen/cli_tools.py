"""`craftgen generate TOOL`: one click command per tool, derived from the tool's request model.

Every field of the model is an option (`negative_prompt` is `--negative-prompt`), typed from
its annotation (a Literal is a choice, a bool an on/off pair) with its description as help; a
field that names an input image takes a file path. An option left out is not sent, so the
model's and the tool's defaults apply, exactly as in the API. Tools load only when `generate`
runs, so `craftgen --help` and the service commands start without torch.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import click
from pydantic import BeforeValidator
from pydantic.fields import FieldInfo

from craftgen.schemas import is_input_file

Runner = Callable[[str, Path, dict[str, Path], dict[str, object]], None]
"""Runs one tool: (tool, out dir, input file paths by field, other fields as given)."""


def _base_type(annotation: Any) -> Any:
    """`int | None` -> int; anything else as it is."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


class _LiteralChoice(click.Choice):  # type: ignore[type-arg]  # click's Choice is generic in its stubs only
    """A choice among a Literal's values, given back as the value itself (`--scale 4` -> 4). The
    field's own before-validators run first, so other spellings it accepts (a sampler's snake
    case) are accepted here too."""

    def __init__(self, values: tuple[object, ...], *, before: tuple[Callable[..., Any], ...] = ()) -> None:
        self.values = {str(value): value for value in values}
        self.before = before
        super().__init__(list(self.values))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        for normalise in self.before:
            value = normalise(value)
        return self.values[super().convert(value, param, ctx)]


def _option(name: str, info: FieldInfo) -> click.Option:
    flag = "--" + name.replace("_", "-")
    help_text = info.description or ""
    base = _base_type(info.annotation)
    if is_input_file(info):
        return click.Option([flag, name], type=click.Path(dir_okay=False, path_type=Path), help=help_text)
    if base is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=None, help=help_text)
    if get_origin(base) is Literal:
        before = tuple(item.func for item in info.metadata if isinstance(item, BeforeValidator))
        choice = _LiteralChoice(get_args(base), before=before)
        default = "" if info.default is None else f" [default: {info.default}]"
        return click.Option([flag, name], type=choice, default=None, help=help_text + default)
    kind = {int: click.INT, float: click.FLOAT, str: click.STRING}.get(base, click.STRING)
    shown = "" if info.default in (None, "") else f" [default: {info.default}]"
    return click.Option([flag, name], type=kind, default=None, help=help_text + shown)


def tool_command(tool: Any, run: Runner) -> click.Command:
    """The `generate TOOL` command for one tool declaration."""
    fields = tool.request_model.model_fields

    def callback(out_dir: Path, **given: Any) -> None:
        files = {name: value for name, value in given.items() if value is not None and is_input_file(fields[name])}
        values = {name: value for name, value in given.items() if value is not None and name not in files}
        run(tool.name, out_dir, files, values)

    params: list[click.Parameter] = [
        click.Option(
            ["--out", "out_dir"],
            type=click.Path(file_okay=False, path_type=Path),
            required=True,
            help="folder for the files and result.json",
        )
    ]
    params += [_option(name, info) for name, info in fields.items() if name != "tool"]
    return click.Command(tool.name, callback=callback, params=params, help=tool.card.makes, short_help=tool.card.title)


class ToolCommands(click.Group):
    """A group whose commands are the tools, built when first asked for."""

    def __init__(self, *args: Any, run: Runner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run = run

    def list_commands(self, ctx: click.Context) -> list[str]:
        from craftgen.engine.tools import TOOLS

        return list(TOOLS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from craftgen.engine.tools import TOOLS

        tool = TOOLS.get(cmd_name)
        return tool_command(tool, self.run) if tool is not None else None
