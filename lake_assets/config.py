"""One loader for every declarative config file (sources, contracts, dependency rules, the
compaction policy): YAML parsed, validated into the pydantic model its owner declares, and every
error a `ConfigError` naming the file, the key path and the reason:

    pipelines/customers.yaml:11: history.keys[0]: must be a string, got 5

A loader that asks for it (`lines=True`, pipeline specs) also names the line, found by composing
the YAML again only once there is an error, so a valid file is parsed once, as before:

    pipelines/customers.yaml:10: history: history is kept for snapshot sources (delivery: snapshot)

The models live beside the code that reads them (`settings.SourcesFile`, `contracts.model.Contract`,
`events.model.DependencyRules`, `compaction.policy.CompactionPolicy`); this module imports none of
them, so any module can use it. Checks that span files (a contract referencing another dataset,
a rule naming an asset of the graph) raise the same `ConfigError` from their own modules.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

Declared = TypeVar("Declared")

# Every model of a config file refuses keys it does not declare: a misspelt key is an error,
# not a silently ignored default.
NO_UNKNOWN_KEYS = ConfigDict(extra="forbid")

# Numbers in YAML files. Strict: `min_files: yes` (a bool) or `lookback_days: "3"` is a mistake,
# not 1 or 3; an integer is still a valid float.
WholeNumber = Annotated[int, Field(strict=True, ge=0)]
Number = Annotated[float, Field(strict=True, ge=0)]
PositiveNumber = Annotated[float, Field(strict=True, gt=0)]


class ConfigError(ValueError):
    """A declarative config file is invalid; the message names the file, key and reason."""

    def __init__(self, file: Path | str, key: str, reason: str, line: int | None = None):
        self.file, self.key, self.reason, self.line = str(file), key, reason, line
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {key}: {reason}")

    @classmethod
    def located(cls, file: Path | str, key: str, reason: str) -> ConfigError:
        """The error with the line of `key` in `file` (None when the file or key is not there)."""
        return cls(file, key, reason, line_of(file, key))


def load_config(path: Path | str, model: type[Declared], *, lines: bool = False) -> Declared:
    """The file at `path` validated into `model` (a pydantic model or dataclass); with `lines`,
    an error also names the line of the key."""
    path = Path(path)
    document = read_mapping(path)
    try:
        return _adapter(model).validate_python(document)
    except ValidationError as error:
        raise config_error(path, error, lines=lines) from None


def config_error(
    path: Path | str,
    error: ValidationError,
    *,
    within: Callable[[str], str] | None = None,
    lines: bool = False,
) -> ConfigError:
    """The first of pydantic's errors, as file, key path and reason (and the key's line, with
    `lines`). `within` maps the key in the validated data to its key in the file, for data that
    sits elsewhere in the file (an inline contract under `contract:`) or was built from it."""
    first = error.errors()[0]
    key = _key_path(first["loc"])
    relative = (first.get("ctx") or {}).get("key")
    if relative:
        key = f"{key}.{relative}" if key else relative
    if within is not None:
        key = within(key)
    key = key or "-"
    reason = _reason(first)
    return ConfigError.located(path, key, reason) if lines else ConfigError(path, key, reason)


def keyed(key: str, reason: str) -> PydanticCustomError:
    """An error for a validator that knows which key is wrong: a model-level check's own
    location is the model, so the key (relative to that model) travels in the error."""
    return PydanticCustomError("config", "{reason}", {"key": key, "reason": reason})


# libyaml's parser where PyYAML was built with it (its wheels are): the same safe subset of YAML,
# about ten times faster. A step of a Dagster run builds the definitions, which read every config
# file; the pure-Python parser was a tenth of a two-day demo (ADR-0176).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str):
    """YAML text as Python data, by the safe loader (no tags that build objects)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def read_mapping(path: Path) -> dict:
    """The YAML mapping in the file at `path`; a missing file, invalid YAML or another kind of
    document is a ConfigError naming the file."""
    try:
        document = parse_yaml(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(path, "-", f"not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(path, "-", "expected a mapping")
    return document


def line_of(path: Path | str, key: str) -> int | None:
    """The line (from 1) where `key` (`rules[2].range.max`) is written in the YAML file at
    `path`: the deepest part of the key that is there (a missing key: its mapping). None when the
    file cannot be read or composed. Only error paths call this."""
    try:
        node = yaml.compose(Path(path).read_text(), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return None
    if node is None or key == "-":  # "-": the file as a whole
        return None
    line = node.start_mark.line
    for part in _KEY_PARTS.findall(key):
        name, index = part
        if isinstance(node, yaml.MappingNode) and name:
            found = [(k, v) for k, v in node.value if k.value == name]
            if not found:
                break
            line, node = found[0][0].start_mark.line, found[0][1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line
        else:
            break
    return line + 1


# `a.b[2].c` -> ("a", ""), ("b", ""), ("", "2"), ("c", "")
_KEY_PARTS = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@cache
def _adapter(model: type) -> TypeAdapter:
    return TypeAdapter(model)


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # the error is about a mapping's key itself, already in the path
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


# pydantic error type -> the reason in the house's words ("got" is added where there is input).
_REASONS = {
    "extra_forbidden": "unknown key",
    "unexpected_keyword_argument": "unknown key",
    "missing": "required",
    "missing_argument": "required",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "dataclass_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be {ge} or more",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be {le} or less",
    "string_pattern_mismatch": "must match {pattern}",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
}
_NO_INPUT = {"extra_forbidden", "unexpected_keyword_argument", "missing", "missing_argument"}


def _reason(error: ErrorDetails) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        choices = context["expected"].replace("'", "")
        reason = f"must be {'one of ' if ',' in choices else ''}{choices}"
    elif kind in ("too_short", "string_too_short") and context["min_length"] == 1:
        reason = "must not be empty"
    elif kind in _REASONS:
        reason = _REASONS[kind].format(**context)
    else:  # a validator's own words (ValueError, keyed) or a pydantic message we do not reword
        return error["msg"].removeprefix("Value error, ")
    return reason if kind in _NO_INPUT else f"{reason}, got {reprlib.repr(error.get('input'))}"
