"""Tokenizer, syntax tree and parser for LangSmith's run filter language.

The language has no published grammar; this strict one accepts every documented example::

    filter  := call END
    call    := IDENT "(" [arg ("," arg)*] ")"
    arg     := call | IDENT | literal | list
    list    := "[" [literal ("," literal)*] "]"
    literal := STRING | NUMBER | "true" | "false" | "null"

Strings take double or single quotes and JSON's backslash escapes; numbers are JSON-like
(``-3``, ``0.5``, ``1e3``).  Whitespace may appear between any two tokens.  Positions are
0-based character offsets into the text.  This module knows only syntax: which names are
functions or attributes is checked by :mod:`evaldelta.delta.filters.compiler`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

# Filters arrive in request bodies; these bounds keep hostile input cheap to reject.
MAX_FILTER_LENGTH = 10_000
MAX_DEPTH = 64
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

Scalar = str | int | float | bool | None


class FilterError(ValueError):
    """A filter the server cannot run; ``position`` is the 0-based offset of the culprit."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Literal:
    """A string, number, ``true``, ``false`` or ``null``."""

    value: Scalar
    pos: int


@dataclass(frozen=True)
class Attr:
    """A bare name in argument position, such as ``run_type`` in ``eq(run_type, "llm")``."""

    name: str
    pos: int


@dataclass(frozen=True)
class ListLit:
    """A ``[...]`` list of literals, the second argument of ``in``."""

    items: tuple[Literal, ...]
    pos: int


@dataclass(frozen=True)
class Call:
    """A function application such as ``and(...)`` or ``eq(name, "x")``."""

    name: str
    args: tuple[Arg, ...]
    pos: int


Arg = Call | Attr | Literal | ListLit
Expr = Call


class _Kind(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    PUNCT = "punctuation"
    END = "end of input"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # identifier name or punctuation character; the raw source for literals
    value: Scalar
    pos: int

    def describe(self) -> str:
        if self.kind is _Kind.END:
            return "end of input"
        if self.kind is _Kind.PUNCT:
            return repr(self.text)
        shown = self.text if len(self.text) <= 20 else self.text[:17] + "..."
        return f"{self.kind.value} {shown}"


_PUNCT = frozenset("()[],")
_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


def _is_digit(ch: str) -> bool:
    # Not str.isdigit(): that also accepts digits of other scripts and superscripts.
    return "0" <= ch <= "9"


def _is_ident_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_ident_char(ch: str) -> bool:
    return _is_ident_start(ch) or _is_digit(ch)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            tokens.append(_Token(_Kind.PUNCT, ch, None, i))
            i += 1
        elif _is_ident_start(ch):
            start = i
            while i < n and _is_ident_char(text[i]):
                i += 1
            tokens.append(_Token(_Kind.IDENT, text[start:i], None, start))
        elif ch in "\"'":
            value, end = _scan_string(text, i)
            tokens.append(_Token(_Kind.STRING, text[i:end], value, i))
            i = end
        elif _is_digit(ch) or (ch == "-" and i + 1 < n and _is_digit(text[i + 1])):
            number, end = _scan_number(text, i)
            tokens.append(_Token(_Kind.NUMBER, text[i:end], number, i))
            i = end
        else:
            raise FilterError(f"unexpected character {ch!r}", i)
    tokens.append(_Token(_Kind.END, "", None, n))
    return tokens


def _scan_string(text: str, start: int) -> tuple[str, int]:
    """Decode the string literal opening at ``start``; return it and the offset after it."""
    quote, i, n = text[start], start + 1, len(text)
    out: list[str] = []
    while i < n:
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if "\ud800" <= ch <= "\udfff":
            # A lone surrogate cannot be encoded for the database; refuse it here.
            raise FilterError("invalid character in string", i)
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = text[i + 1] if i + 1 < n else ""
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc == "u":
            char, i = _scan_unicode_escape(text, i)
            out.append(char)
        else:
            raise FilterError(f"invalid escape sequence {text[i : i + 2]!r} in string", i)
    raise FilterError(f"unterminated string starting at position {start}: expected {quote}", n)


def _scan_unicode_escape(text: str, i: int) -> tuple[str, int]:
    """Decode ``\\uXXXX`` at ``i`` (joining a surrogate pair as JSON does)."""
    code = _hex4(text, i)
    if 0xD800 <= code <= 0xDBFF and text[i + 6 : i + 8] == "\\u":
        low = _hex4(text, i + 6)
        if 0xDC00 <= low <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), i + 12
    if 0xD800 <= code <= 0xDFFF:
        raise FilterError("unpaired surrogate in \\u escape", i)
    return chr(code), i + 6


def _hex4(text: str, i: int) -> int:
    digits = text[i + 2 : i + 6]
    if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise FilterError("expected four hex digits after \\u", i)
    return int(digits, 16)


def _scan_number(text: str, start: int) -> tuple[int | float, int]:
    i, n = start, len(text)
    if text[i] == "-":
        i += 1
    while i < n and _is_digit(text[i]):
        i += 1
    is_float = False
    if i < n and text[i] == ".":
        i += 1
        if not (i < n and _is_digit(text[i])):
            raise FilterError("expected a digit after '.'", i)
        while i < n and _is_digit(text[i]):
            i += 1
        is_float = True
    if i < n and text[i] in "eE":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        if not (i < n and _is_digit(text[i])):
            raise FilterError("expected a digit in the exponent", i)
        while i < n and _is_digit(text[i]):
            i += 1
        is_float = True
    raw = text[start:i]
    if is_float:
        value = float(raw)
        if not math.isfinite(value):
            raise FilterError(f"number out of range {raw!r}", start)
        return value, i
    # Check the length before int(): huge digit strings are slow (and capped) to convert.
    if len(raw.lstrip("-")) > 19 or not _INT64_MIN <= int(raw) <= _INT64_MAX:
        raise FilterError(f"integer out of range {raw!r}", start)
    return int(raw), i


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._i = 0

    def _peek(self) -> _Token:
        return self._tokens[self._i]

    def _next(self) -> _Token:
        tok = self._tokens[self._i]
        if tok.kind is not _Kind.END:
            self._i += 1
        return tok

    def _is(self, punct: str) -> bool:
        tok = self._peek()
        return tok.kind is _Kind.PUNCT and tok.text == punct

    def _fail(self, expected: str) -> FilterError:
        tok = self._peek()
        return FilterError(f"expected {expected}, found {tok.describe()}", tok.pos)

    def _expect(self, punct: str, expected: str) -> None:
        if not self._is(punct):
            raise self._fail(expected)
        self._next()

    def filter(self) -> Call:
        tok = self._peek()
        if tok.kind is not _Kind.IDENT:
            raise self._fail('a function call such as eq(name, "x")')
        self._next()
        call = self._call(tok, 1)
        if self._peek().kind is not _Kind.END:
            raise self._fail("end of input")
        return call

    def _call(self, name: _Token, depth: int) -> Call:
        if depth > MAX_DEPTH:
            raise FilterError(f"filter is nested more than {MAX_DEPTH} levels deep", name.pos)
        self._expect("(", f"'(' after {name.text}")
        args: list[Arg] = []
        if not self._is(")"):
            args.append(self._arg(depth))
            while self._is(","):
                self._next()
                args.append(self._arg(depth))
        self._expect(")", "',' or ')'")
        return Call(name.text, tuple(args), name.pos)

    def _arg(self, depth: int) -> Arg:
        tok = self._peek()
        if tok.kind is _Kind.IDENT:
            self._next()
            if self._is("("):
                return self._call(tok, depth + 1)
            return _keyword(tok) or Attr(tok.text, tok.pos)
        if self._is("["):
            return self._list(depth + 1)
        return self._literal("a filter, an attribute name, a literal or a list")

    def _list(self, depth: int) -> ListLit:
        start = self._next()
        if depth > MAX_DEPTH:
            raise FilterError(f"filter is nested more than {MAX_DEPTH} levels deep", start.pos)
        items: list[Literal] = []
        if not self._is("]"):
            items.append(self._literal("a literal"))
            while self._is(","):
                self._next()
                items.append(self._literal("a literal"))
        self._expect("]", "',' or ']'")
        return ListLit(tuple(items), start.pos)

    def _literal(self, expected: str) -> Literal:
        tok = self._peek()
        if tok.kind in (_Kind.STRING, _Kind.NUMBER):
            self._next()
            return Literal(tok.value, tok.pos)
        keyword = _keyword(tok) if tok.kind is _Kind.IDENT else None
        if keyword is None:
            raise self._fail(expected)
        self._next()
        return keyword


def _keyword(tok: _Token) -> Literal | None:
    constants: dict[str, Scalar] = {"true": True, "false": False, "null": None}
    if tok.text in constants:
        return Literal(constants[tok.text], tok.pos)
    return None


def parse_filter(text: str) -> Expr:
    """Parse filter text into a syntax tree, or raise :class:`FilterError`.

    Only syntax is checked here; :func:`evaldelta.delta.filters.compiler.compile_filter` rejects
    unknown functions and attributes, wrong arity and literals of the wrong type.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"filter is longer than {MAX_FILTER_LENGTH} characters", MAX_FILTER_LENGTH
        )
    return _Parser(_tokenize(text)).filter()
