"""The tools, one file each: every module here that defines a Tool subclass adds that tool.

Adding a tool is one new file in this folder (its request model, its declaration and its
`run`); nothing else names tools. TOOLS maps a tool name to its instance, in the order the
studio shows them (`card.order`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from craftgen.engine.base import Tool


def _discover() -> dict[str, Tool[Any]]:
    found: list[Tool[Any]] = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Tool) and cls is not Tool and cls.__module__ == module.__name__:
                found.append(cls())
    found.sort(key=lambda tool: (tool.card.order, tool.name))
    tools: dict[str, Tool[Any]] = {}
    for tool in found:
        if tool.name in tools:
            raise RuntimeError(f"two tools are named {tool.name!r}")
        if tool.request_model.model_fields["tool"].default != tool.name:
            raise RuntimeError(f"the {tool.name} tool's request model must default `tool` to {tool.name!r}")
        tools[tool.name] = tool
    return tools


TOOLS: dict[str, Tool[Any]] = _discover()
TOOL_NAMES: tuple[str, ...] = tuple(TOOLS)
