"""KEDA's scalingModifiers formula, evaluated here the way KEDA evaluates it (an expr-lang
expression over the triggers' metric values), for the subset a scaling formula uses: numbers,
trigger names, + - * / %, parentheses, comparisons, `&&` `||` `!`, `cond ? a : b`, min() and max().
Anything else is refused by name, so a formula the simulator cannot read fails loudly."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[-+*/%()<>?:!,]))")

Value = float
Node = Callable[[Mapping[str, float]], Value]

_BINARY: dict[str, tuple[int, Callable[[float, float], float]]] = {
    "||": (1, lambda a, b: float(bool(a) or bool(b))),
    "&&": (2, lambda a, b: float(bool(a) and bool(b))),
    "==": (3, lambda a, b: float(a == b)),
    "!=": (3, lambda a, b: float(a != b)),
    "<": (4, lambda a, b: float(a < b)),
    "<=": (4, lambda a, b: float(a <= b)),
    ">": (4, lambda a, b: float(a > b)),
    ">=": (4, lambda a, b: float(a >= b)),
    "+": (5, lambda a, b: a + b),
    "-": (5, lambda a, b: a - b),
    "*": (6, lambda a, b: a * b),
    "/": (6, lambda a, b: a / b),
    "%": (6, math.fmod),  # Go's remainder: the sign of the dividend
}
_FUNCTIONS: dict[str, Callable[..., float]] = {"max": max, "min": min, "abs": abs}


class FormulaError(ValueError):
    """A scalingModifiers formula outside the subset this reads."""


@dataclass(frozen=True)
class Formula:
    """A parsed formula: `Formula.parse("pro + free")({"pro": 3, "free": 5}) == 8`."""

    source: str
    names: frozenset[str]
    _root: Node

    @classmethod
    def parse(cls, source: str) -> Formula:
        tokens = _tokenize(source)
        parser = _Parser(tokens, source)
        root = parser.ternary()
        if parser.pos != len(tokens):
            raise FormulaError(f"unexpected {tokens[parser.pos]!r} in formula {source!r}")
        return cls(source=source, names=frozenset(parser.names), _root=root)

    def __call__(self, values: Mapping[str, float]) -> float:
        missing = self.names - set(values)
        if missing:
            raise FormulaError(f"formula {self.source!r} needs {sorted(missing)}")
        return float(self._root(values))


def _tokenize(source: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None:
            raise FormulaError(f"cannot read formula {source!r} at {source[pos:]!r}")
        tokens.append(next(group for group in match.groups() if group is not None))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], source: str) -> None:
        self.tokens, self.source, self.pos = tokens, source, 0
        self.names: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FormulaError(f"expected {expected or 'more'} in formula {self.source!r}")
        self.pos += 1
        return token

    def ternary(self) -> Node:
        condition = self.binary(1)
        if self.peek() != "?":
            return condition
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return lambda v: yes(v) if condition(v) else no(v)

    def binary(self, min_precedence: int) -> Node:
        left = self.unary()
        while (token := self.peek()) in _BINARY and _BINARY[token][0] >= min_precedence:
            precedence, apply = _BINARY[self.take()]
            right = self.binary(precedence + 1)
            left = _combine(apply, left, right)
        return left

    def unary(self) -> Node:
        token = self.peek()
        if token == "-":
            self.take()
            inner = self.unary()
            return lambda v: -inner(v)
        if token == "!":
            self.take()
            inner = self.unary()
            return lambda v: float(not inner(v))
        return self.atom()

    def atom(self) -> Node:
        token = self.take()
        if token == "(":
            inner = self.ternary()
            self.take(")")
            return inner
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            number = float(token)
            return lambda v: number
        if re.fullmatch(r"[A-Za-z_]\w*", token):
            if self.peek() == "(":
                return self.call(token)
            self.names.add(token)
            return lambda v: float(v[token])
        raise FormulaError(f"unexpected {token!r} in formula {self.source!r}")

    def call(self, name: str) -> Node:
        if name not in _FUNCTIONS:
            raise FormulaError(f"function {name}() is not supported in formula {self.source!r}")
        function = _FUNCTIONS[name]
        self.take("(")
        args = [self.ternary()]
        while self.peek() == ",":
            self.take(",")
            args.append(self.ternary())
        self.take(")")
        return lambda v: float(function(*(arg(v) for arg in args)))


def _combine(apply: Callable[[float, float], float], left: Node, right: Node) -> Node:
    return lambda v: apply(left(v), right(v))
