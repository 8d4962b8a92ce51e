"""What a contract's regex and sql rules can be checked for at load, without Spark.

Both run in Spark: a regex through RLIKE, which is java.util.regex, an sql rule through Spark's
analyzer. Loading a contract must not start a JVM, so the checks here are the ones Python can
make soundly:

- a regex is compiled by Python (general syntax) after a scan for the constructs the two dialects
  spell or read differently: Python-only syntax Java rejects (`(?P<name>`, `(?P=name)`, `(?#`,
  `(?(1)`, inline flags `a`/`L`, `\\U`, `{,n}`, a `{` that starts no quantifier) and syntax Java
  reads otherwise (`\\Z`, `[` and `&&` inside a class). Java's `\\z` is accepted.
- an sql expression is tokenised; every bare identifier that is not a keyword, a function name,
  a field after `.` or a lambda parameter is a column, and must be declared. Anything the
  tokeniser cannot classify is left to Spark: the check may miss an error, never invent one.
"""

from __future__ import annotations

import re

_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_INLINE_FLAGS = re.compile(r"[a-zA-Z]*")


def java_regex_problem(pattern: str) -> str | None:
    """Why java.util.regex would reject `pattern` or read it differently from Python; None if
    it reads the same in both."""
    i, in_class = 0, False
    while i < len(pattern):
        char, rest = pattern[i], pattern[i + 1 :]
        if char == "\\":
            escaped = rest[:1]
            if escaped == "Z":
                return (
                    "\\Z ends the input in Python but also matches before a final line break "
                    "in Java (Spark); write \\z"
                )
            if escaped == "U":
                return "\\UXXXXXXXX is Python-only; Java writes \\x{XXXXX}"
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[":
                return "[ inside a character class is a nested class in Java (Spark); write \\["
            elif rest.startswith("&") and char == "&":
                return "&& inside a character class is an intersection in Java (Spark)"
        elif char == "[":
            in_class = True
            # A ] first in the class (after an optional ^) is a literal in both dialects.
            i += 1 + (rest[:1] == "^")
            if pattern[i : i + 1] == "]":
                i += 1
            continue
        elif char == "(" and rest.startswith("?"):
            group = rest[1:]
            if group.startswith("P<"):
                return "(?P<name>...) is Python's named group; Java (Spark) writes (?<name>...)"
            if group.startswith("P="):
                return "(?P=name) is Python's backreference; Java (Spark) writes \\k<name>"
            if group.startswith("#"):
                return "(?#...) comments are Python-only; Java (Spark) rejects them"
            if group.startswith("("):
                return "conditional groups (?(...)...) are Python-only; Java (Spark) rejects them"
            flags = _INLINE_FLAGS.match(group).group()
            if set(flags) & {"a", "L"}:
                return "inline flags a and L are Python-only; Java (Spark) rejects them"
        elif char == "{" and not _QUANTIFIER.match(pattern, i):
            return (
                "a { that starts no quantifier ({n}, {n,}, {n,m}) is a literal in Python and "
                "an error in Java (Spark); write \\{"
            )
        i += 1
    return None


def python_spelling(pattern: str) -> str:
    """`pattern` as Python's re spells it, for the syntax check: Java's \\z is Python's \\Z."""
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern)


_SQL_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<quoted>`(?:[^`]|``)*`)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[A-Za-z]*|\.\d+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<arrow>->)
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Words of Spark SQL expressions that are not columns: operators, literals, CASE, CAST and its
# types, typed literals, INTERVAL units, EXTRACT's FROM.
_SQL_WORDS = frozenset(
    """
    and or not in is null true false between like ilike rlike regexp escape any some all exists
    distinct case when then else end cast as div from interval x
    string int integer bigint smallint tinyint long short byte double float real decimal
    numeric dec boolean date timestamp timestamp_ntz timestamp_ltz binary array map struct
    char varchar void current_date current_timestamp current_user
    year years month months week weeks day days hour hours minute minutes second seconds
    millisecond milliseconds microsecond microseconds to
    """.split()
)


def sql_columns(expression: str) -> list[str]:
    """The column names an sql rule's expression reads, as far as tokens tell."""
    tokens = [
        (m.lastgroup, m.group()) for m in _SQL_TOKEN.finditer(expression) if m.lastgroup != "space"
    ]
    lambda_parameters = _lambda_parameters(tokens)
    columns = []
    for index, (kind, text) in enumerate(tokens):
        before = tokens[index - 1][1] if index else ""
        after = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if kind == "quoted":
            name = text[1:-1].replace("``", "`")
        elif kind == "word" and text.lower() not in _SQL_WORDS:
            name = text
        else:
            continue
        if before == "." or after == "(" or name in lambda_parameters:
            continue
        columns.append(name)
    return list(dict.fromkeys(columns))


def _lambda_parameters(tokens: list[tuple[str, str]]) -> set[str]:
    """Names bound by `x -> ...` or `(x, y) -> ...` in higher-order functions."""
    names = set()
    for index, (kind, _) in enumerate(tokens):
        if kind != "arrow" or index == 0:
            continue
        before = index - 1
        if tokens[before][1] == ")":
            while before > 0 and tokens[before][1] != "(":
                before -= 1
                if tokens[before][0] == "word":
                    names.add(tokens[before][1])
        elif tokens[before][0] == "word":
            names.add(tokens[before][1])
    return names
