"""The `filter_string` grammar of the Resource Explorer dialect, parsed into a small model.

`cond&cond&…`, all ANDed. A condition is `[-]key=value` or a bare word (`tag:all`). A leading
`-` negates. `\\` escapes a literal `&`, `*`, `=`, `-` or `\\`. In a value an unescaped `*`
is a wildcard: `*` (any), `x*` (starts), `*x` (ends), `*x*` (contains) — each key says which
forms it takes. Errors quote the condition and say what is allowed, because the person who
typed it has to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from skyatlas.errors import InvalidParameter

Form = Literal["exact", "prefix", "suffix", "contains", "any"]
ESCAPABLE = frozenset("&*=-\\")
ALL_FORMS: frozenset[Form] = frozenset({"exact", "prefix", "suffix", "contains", "any"})
EXACT_OR_ANY: frozenset[Form] = frozenset({"exact", "any"})
_FORM_WORDS = {
    "exact": "exact (x)",
    "contains": "contains (*x*)",
    "prefix": "starts with (x*)",
    "suffix": "ends with (*x)",
    "any": "any (*)",
}


class FilterError(InvalidParameter):
    code = "ERROR_INVALID_FILTER"


@dataclass(frozen=True)
class Pattern:
    form: Form
    text: str = ""

    def matches(self, value: str | None) -> bool:
        """The reference semantics (case-sensitive); the SQL compiler must agree with it."""
        if self.form == "any":
            return True
        if value is None:
            return False
        if self.form == "exact":
            return value == self.text
        if self.form == "prefix":
            return value.startswith(self.text)
        if self.form == "suffix":
            return value.endswith(self.text)
        return self.text in value


@dataclass(frozen=True)
class Term:
    key: str
    pattern: Pattern
    negated: bool
    source: str


@dataclass(frozen=True)
class Filter:
    terms: tuple[Term, ...] = ()
    words: frozenset[str] = frozenset()

    def by_key(self, *keys: str) -> list[Term]:
        return [t for t in self.terms if t.key in keys]


@dataclass(frozen=True)
class Grammar:
    """Which keys a search takes, the value forms of each, and its bare words."""

    keys: Mapping[str, frozenset[Form]]
    words: frozenset[str]

    def describe(self) -> str:
        keys = ", ".join(self.keys)
        words = ", ".join(sorted(self.words))
        return f"keys are {keys}; bare words are {words}"


RESOURCE_GRAMMAR = Grammar(
    keys={
        "resource_name": ALL_FORMS,
        "resource_id": ALL_FORMS,
        "region": EXACT_OR_ANY,
        "service": EXACT_OR_ANY,
        "resource_type": EXACT_OR_ANY,
        "tag.key": EXACT_OR_ANY,
        "tag.value": EXACT_OR_ANY,
        "provider": EXACT_OR_ANY,
        "project_id": EXACT_OR_ANY,
    },
    words=frozenset({"tag:all", "tag:none"}),
)

TAG_GRAMMAR = Grammar(
    keys={"tag.key": EXACT_OR_ANY, "tag.value": EXACT_OR_ANY, "tag.type": EXACT_OR_ANY},
    words=frozenset({"tag:in_use", "tag:not_in_use"}),
)


def _split(text: str) -> list[str]:
    """Split on unescaped `&`, keeping escapes for the condition parser."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == "&":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _chars(raw: str, source: str) -> list[tuple[str, bool]]:
    """(character, escaped) pairs; a bad or dangling escape is an error."""
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            if i + 1 >= len(raw):
                raise FilterError(
                    f'invalid filter condition "{source}": it ends in a lone \\; '
                    "the escapes are \\&, \\*, \\=, \\- and \\\\"
                )
            nxt = raw[i + 1]
            if nxt not in ESCAPABLE:
                raise FilterError(
                    f'invalid filter condition "{source}": \\{nxt} is not an escape; '
                    "only \\&, \\*, \\=, \\- and \\\\ are"
                )
            out.append((nxt, True))
            i += 2
        else:
            out.append((ch, False))
            i += 1
    return out


def _pattern(
    value: list[tuple[str, bool]], key: str, forms: frozenset[Form], source: str
) -> Pattern:
    stars = [i for i, (ch, esc) in enumerate(value) if ch == "*" and not esc]
    if len(value) == 1 and stars == [0]:
        form: Form = "any"
        text = ""
    else:
        lead = bool(stars) and stars[0] == 0
        trail = bool(stars) and stars[-1] == len(value) - 1
        inner = [i for i in stars if not (i == 0 and lead) and not (i == len(value) - 1 and trail)]
        if inner:
            raise FilterError(
                f'invalid filter condition "{source}": a * can only start or end a value '
                f"(write \\* for a literal star)"
            )
        body = value[(1 if lead else 0) : (len(value) - 1 if trail else len(value))]
        text = "".join(ch for ch, _ in body)
        if lead and trail:
            form = "contains" if text else "any"
        elif lead:
            form = "suffix"
        elif trail:
            form = "prefix"
        else:
            form = "exact"
    if form not in forms:
        allowed = ", ".join(_FORM_WORDS[f] for f in _FORM_WORDS if f in forms)
        raise FilterError(
            f'invalid filter condition "{source}": {key} takes {allowed} values only'
            + ("; a * inside a value is not allowed here" if "*" in source else "")
        )
    return Pattern(form, text)


def parse(text: str | None, grammar: Grammar = RESOURCE_GRAMMAR) -> Filter:
    """Parse a whole filter_string (None or empty: no conditions)."""
    if text is None or text == "":
        return Filter()
    terms: list[Term] = []
    words: set[str] = set()
    for raw in _split(text):
        source = raw
        if raw == "":
            raise FilterError(
                f'invalid filter_string "{text}": an empty condition (two & in a row, or one at '
                "an end); conditions are key=value or bare words joined by single & (write \\& "
                "for a literal one)"
            )
        if raw in grammar.words:
            words.add(raw)
            continue
        negated = raw.startswith("-")
        body = raw[1:] if negated else raw
        chars = _chars(body, source)
        eq = next((i for i, (ch, esc) in enumerate(chars) if ch == "=" and not esc), None)
        if eq is None:
            bare = body if not negated else raw
            hint = (
                f"{bare} cannot be negated"
                if negated and body in grammar.words
                else "expected key=value or a bare word"
            )
            raise FilterError(f'invalid filter condition "{source}": {hint}; {grammar.describe()}')
        key_chars, value = chars[:eq], chars[eq + 1 :]
        key = "".join(ch for ch, _ in key_chars)
        if not key:
            raise FilterError(
                f'invalid filter condition "{source}": the key is empty; {grammar.describe()}'
            )
        if any(esc for _, esc in key_chars) or key not in grammar.keys:
            raise FilterError(
                f'invalid filter condition "{source}": unknown key "{key}"; {grammar.describe()}'
            )
        if any(ch == "=" and not esc for ch, esc in value):
            raise FilterError(
                f'invalid filter condition "{source}": a second = (write \\= for a literal one)'
            )
        terms.append(
            Term(
                key=key,
                pattern=_pattern(value, key, grammar.keys[key], source),
                negated=negated,
                source=source,
            )
        )
    return Filter(terms=tuple(terms), words=frozenset(words))


def escape(value: str) -> str:
    """The filter_string spelling of a literal value (for clients and tests)."""
    return "".join("\\" + ch if ch in ESCAPABLE else ch for ch in value)
