"""OData ``$filter`` expressions as the sandbox reads them: tokenizer, parser, comparison.

One reader for every route group (list items, lists, mail). It parses the subset of the
OData v4 URL conventions (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html)
that Graph documents for these resources:

* comparisons ``path op literal`` with ``eq ne gt ge lt le``;
* ``and`` / ``or`` and parentheses;
* the lambda ``path/any(v: <expression over v/...>)``, as in
  ``singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')``
  (singlevaluelegacyextendedproperty-get page).

The tree is plain tuples so that callers bind paths to their own data:
``("cmp", path, op, (kind, value))``, ``("and", [nodes])``, ``("or", [nodes])`` and
``("any", path, variable, node)``. Literal kinds are ``str``, ``num``, ``bool``, ``null`` and
``raw`` (an unquoted word such as a date). A syntax error raises :class:`FilterSyntaxError`;
each route group turns it into the Graph error its service answers with.
"""

from __future__ import annotations

import re
from typing import Any

Node = tuple[Any, ...]

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<paren>[()])|(?P<word>[^\s()']+))")


class FilterSyntaxError(ValueError):
    """The ``$filter`` text is not an expression this reader understands."""


def tokenize(text: str) -> list[str]:
    """Quoted strings, parentheses and words, in order."""
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterSyntaxError("Invalid filter clause")
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return [token for token in tokens if token]


def parse_filter(text: str) -> Node:
    """The expression tree of a ``$filter`` value."""
    return _Parser(tokenize(text)).parse()


def literal(token: str) -> tuple[str, Any]:
    """(kind, value) of one literal token."""
    if token.startswith("'"):
        return "str", token[1:-1].replace("''", "'")
    lowered = token.lower()
    if lowered in ("true", "false"):
        return "bool", lowered == "true"
    if lowered == "null":
        return "null", None
    try:
        return "num", float(token) if re.search(r"[.eE]", token) else int(token)
    except ValueError:
        return "raw", token


def comparison_paths(node: Node) -> list[str]:
    """Every path compared in the tree (lambda bodies excluded: they name the variable)."""
    if node[0] == "cmp":
        return [str(node[1])]
    if node[0] == "any":
        return [str(node[1])]
    return [path for child in node[1] for path in comparison_paths(child)]


def compare(actual: Any, op: str, expected: Any) -> bool:
    """OData comparison with ``null`` semantics: only eq/ne are true against null."""
    if expected is None or actual is None:
        if op == "eq":
            return actual is None and expected is None
        if op == "ne":
            return (actual is None) != (expected is None)
        return False
    try:
        if op == "eq":
            return bool(actual == expected)
        if op == "ne":
            return bool(actual != expected)
        if op == "gt":
            return bool(actual > expected)
        if op == "ge":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


class _Parser:
    """Recursive descent: or > and > term."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def parse(self) -> Node:
        node = self._or()
        if self.pos != len(self.tokens):
            raise FilterSyntaxError("Invalid filter clause")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise FilterSyntaxError("Invalid filter clause")
        self.pos += 1
        return token

    def _or(self) -> Node:
        parts = [self._and()]
        while (self._peek() or "").lower() == "or":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def _and(self) -> Node:
        parts = [self._term()]
        while (self._peek() or "").lower() == "and":
            self.pos += 1
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def _term(self) -> Node:
        if self._peek() == "(":
            self.pos += 1
            node = self._or()
            self._close()
            return node
        path = self._take()
        head, _, last = path.rpartition("/")
        if head and last.lower() == "any" and self._peek() == "(":
            return self._lambda(head)
        op = self._take().lower()
        if op not in COMPARISONS:
            raise FilterSyntaxError(f"Unsupported filter operator '{op}'.")
        return ("cmp", path, op, literal(self._take()))

    def _lambda(self, path: str) -> Node:
        self.pos += 1  # the "(" after "any"
        head = self._take()
        # "ep:" then "ep/id", or "ep:ep/id" as one word, or "ep" ":" with spaces.
        variable, colon, rest = head.partition(":")
        if not colon:
            following = self._take()
            if not following.startswith(":"):
                raise FilterSyntaxError("Invalid lambda expression")
            rest = following[1:]
        if not variable.isidentifier():
            raise FilterSyntaxError("Invalid lambda variable")
        if rest:
            self.tokens.insert(self.pos, rest)
        node = self._or()
        self._close()
        return ("any", path, variable, node)

    def _close(self) -> None:
        if self._take() != ")":
            raise FilterSyntaxError("Invalid filter clause")
