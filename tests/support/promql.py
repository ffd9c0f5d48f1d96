"""Find the metric selectors in a PromQL expression, with a tokenizer (no full parser).

`selectors(expr)` returns every vector selector: its metric name and its label matchers. It
knows enough PromQL to tell a metric name from a function name (followed by `(`), from a
keyword (`by`, `on`, `and`, ...), from a label name (inside `{}` or in a `by (...)` /
`on (...)` / `group_left (...)` list) and from durations (`[5m]`, `[1d:1m]`, `offset 1h`).
`template_queries(text)` finds the PromQL that alert templates run with `query`.

Pure functions; `PromqlError` for input it cannot tokenize.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "atan2",
    }
)
NUMBER_WORDS = frozenset({"inf", "nan"})
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<duration>\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w.]))
    | (?P<number>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=@])
    | (?P<punct>[(){},])
    """,
    re.VERBOSE,
)


class PromqlError(ValueError):
    """An expression the tokenizer cannot read."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # =, !=, =~, !~
    value: str


@dataclass(frozen=True)
class Selector:
    """A vector selector: `name{matchers}` (name empty for `{__name__=...}` alone)."""

    name: str
    matchers: tuple[Matcher, ...]

    def matcher_values(self, label: str) -> tuple[str, ...]:
        """Values an equality or simple alternation matcher on `label` selects."""
        out: list[str] = []
        for m in self.matchers:
            if m.label != label:
                continue
            if m.op == "=":
                out.append(m.value)
            elif m.op == "=~" and re.fullmatch(r"[A-Za-z0-9_.:|-]+", m.value):
                out.extend(m.value.split("|"))
        return tuple(out)


def tokens(expr: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise PromqlError(f"cannot tokenize at {pos}: {expr[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        if kind not in ("ws", "comment"):
            out.append(Token(kind, match.group()))
        pos = match.end()
    return out


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _matchers(toks: list[Token], start: int) -> tuple[tuple[Matcher, ...], int]:
    """Parse `{a="x", b=~"y"}` from toks[start] == "{"; return matchers and the index after `}`."""
    found: list[Matcher] = []
    i = start + 1
    while i < len(toks) and toks[i].text != "}":
        if toks[i].text == ",":
            i += 1
            continue
        if i + 2 >= len(toks) or toks[i].kind != "ident" or toks[i + 2].kind != "string":
            raise PromqlError(f"bad label matcher near {toks[i].text!r}")
        found.append(Matcher(toks[i].text, toks[i + 1].text, _unquote(toks[i + 2].text)))
        i += 3
    if i >= len(toks):
        raise PromqlError("unclosed {")
    return tuple(found), i + 1


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of `expr`, in order of appearance."""
    toks = tokens(expr)
    found: list[Selector] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.kind == "ident" and tok.text in LABEL_LIST_KEYWORDS:
            i += 1
            if nxt is not None and nxt.text == "(":  # a label list: skip to its ")"
                while i < len(toks) and toks[i].text != ")":
                    i += 1
                i += 1
            continue
        if tok.kind == "ident" and tok.text == "offset":
            i += 2  # the duration
            continue
        if tok.kind == "ident" and (tok.text in KEYWORDS or tok.text.lower() in NUMBER_WORDS):
            i += 1
            continue
        if tok.kind == "ident" and nxt is not None and nxt.text in ("(", "by", "without"):
            i += 1  # a function, or an aggregation (`sum by (x) (...)`)
            continue
        if tok.kind == "ident":
            matchers: tuple[Matcher, ...] = ()
            i += 1
            if nxt is not None and nxt.text == "{":
                matchers, i = _matchers(toks, i)
            found.append(Selector(tok.text, matchers))
            continue
        if tok.text == "{":
            matchers, i = _matchers(toks, i)
            names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
            found.append(Selector(names[0] if names else "", matchers))
            continue
        i += 1
    return found


def metric_names(expr: str) -> set[str]:
    return {s.name for s in selectors(expr) if s.name}


_QUERY = re.compile(r"""\bquery\s*\(?\s*(?:printf\s*)?("(?:[^"\\]|\\.)*"|`[^`]*`)""")


def template_queries(text: str) -> list[str]:
    """The PromQL run by `query` in a Go template (printf verbs replaced by a placeholder)."""
    out = []
    for match in _QUERY.finditer(text):
        raw = match.group(1)
        body = raw[1:-1] if raw.startswith("`") else _unquote(raw)
        out.append(re.sub(r"%[qsdv]", '"x"', body))
    return out
