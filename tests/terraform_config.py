"""Reading terraform/ for the tests that check it (test_terraform*.py): every top-level block of
its *.tf files as plain Python values, and the policy documents, statements and resources in it.

python-hcl2 8 keeps HCL syntax in what it returns: string literals keep their quotes
('"s3:GetObject"'), references come back as '${aws_s3_bucket.lake.arn}', block labels are quoted
and every block carries '__is_block__'. `clean_hcl` turns that into plain values, so a literal is
'raw/' and a reference stays recognisable by its '${'.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[1]
TF_DIR = REPO_ROOT / "terraform"
BOOTSTRAP_FILES = sorted((TF_DIR / "bootstrap").glob("*.tf"))
PIPELINE_MODULES = sorted((TF_DIR / "pipelines").glob("**/*.tf"))
# The modules the root calls more than once (terraform/modules/<name>/), and the one the lake
# bucket's lifecycle and its replica's are made by.
SHARED_MODULES = sorted((TF_DIR / "modules").glob("**/*.tf"))
LIFECYCLE_MODULE = TF_DIR / "modules" / "lifecycle"
LAKE_ARN = "${aws_s3_bucket.lake.arn}"


@cache
def terraform_config() -> dict[str, list]:
    """Every top-level block of terraform/*.tf, merged by kind ("resource", "data", ...)."""
    return module_config(TF_DIR)


@cache
def module_config(directory: Path) -> dict[str, list]:
    """Every top-level block of a module's own *.tf (the root's, or LIFECYCLE_MODULE's), merged
    by kind."""
    merged: dict[str, list] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, entries in parse_hcl(path).items():
            merged.setdefault(kind, []).extend(entries)
    return merged


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


# Keys python-hcl2 adds to what it returns: block markers, a file's comments, and the comments
# inside an expression (those between local.lake_lifecycle_rules' rules).
HCL2_MARKERS = {"__is_block__", "__comments__", "__inline_comments__"}


def clean_hcl(value):
    """python-hcl2 8 output -> plain Python values (literals unquoted, block markers dropped)."""
    if isinstance(value, dict):
        return {_unquote(k): clean_hcl(v) for k, v in value.items() if k not in HCL2_MARKERS}
    if isinstance(value, list):
        return [clean_hcl(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def parse_hcl(path: Path) -> dict:
    with path.open() as handle:
        return clean_hcl(hcl2.load(handle))


def labelled_blocks(config: dict, kind: str) -> dict[tuple[str, str], dict]:
    """{(type, name): body} for two-label blocks (resource, data)."""
    found = {}
    for entry in config.get(kind, []):
        for type_, named in entry.items():
            for name, body in named.items():
                assert (type_, name) not in found, f"duplicate {kind} {type_}.{name}"
                found[(type_, name)] = body
    return found


def locals_of(config) -> dict:
    return {k: v for block in config.get("locals", []) for k, v in block.items()}


def variables_of(config) -> dict[str, dict]:
    return {name: body for entry in config["variable"] for name, body in entry.items()}


def modules_of(config) -> dict[str, dict]:
    """{name: body} of the module calls."""
    return {name: body for entry in config.get("module", []) for name, body in entry.items()}


def resources_of(config, type_: str) -> dict[str, dict]:
    return {
        name: body for (t, name), body in labelled_blocks(config, "resource").items() if t == type_
    }


LOCAL_REFERENCE = re.compile(r"\$\{local\.([A-Za-z0-9_]+)\}")


def resolve_locals(value, locals_: dict):
    """Substitute '${local.x}' by the local's (string) expression, so a wildcard or a bucket-wide
    ARN kept in a local is seen where it is used; a value that is one list local is that list."""
    if isinstance(value, dict):
        return {k: resolve_locals(v, locals_) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_locals(v, locals_) for v in value]
    if isinstance(value, str):
        whole = LOCAL_REFERENCE.fullmatch(value)
        if whole and isinstance(locals_.get(whole.group(1)), list):  # a list kept in a local
            return resolve_locals(locals_[whole.group(1)], locals_)
        for _ in range(10):  # locals may refer to locals
            expanded = LOCAL_REFERENCE.sub(
                lambda m: locals_[m.group(1)] if isinstance(locals_.get(m.group(1)), str) else m[0],
                value,
            )
            if expanded == value:
                break
            value = expanded
    return value


def policy_documents(config) -> dict[str, dict]:
    """Every aws_iam_policy_document, with locals resolved."""
    locals_ = {k: v for block in config.get("locals", []) for k, v in block.items()}
    return {
        name: resolve_locals(body, locals_)
        for (t, name), body in labelled_blocks(config, "data").items()
        if t == "aws_iam_policy_document"
    }


def statements_of(document: dict) -> list[dict]:
    """Static statements and the content of `dynamic "statement"` blocks."""
    statements = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        if "statement" in dynamic:
            statements.extend(dynamic["statement"].get("content", []))
    return statements


def one(items: list):
    assert len(items) == 1, items
    return items[0]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def document_reference(expression: str) -> str | None:
    """'${data.aws_iam_policy_document.x.json}' -> 'x' (also of a counted document's `x[0]`,
    and of one per key's `x[each.key]`); anything else -> None."""
    match = re.fullmatch(
        r"\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)(?:\[(?:0|each\.key)\])?\.json\}",
        expression,
    )
    return match.group(1) if match else None


def key_policy_documents(config) -> set[str]:
    return {
        document_reference(body["policy"])
        for body in resources_of(config, "aws_kms_key").values()
        if "policy" in body
    }


def policy_document(config, name: str) -> dict:
    return policy_documents(config)[name]


def actions_of(document: dict) -> set[str]:
    return {a for s in statements_of(document) for a in as_list(s["actions"])}


def statements_by_sid(document: dict) -> dict[str, dict]:
    return {s["sid"]: s for s in statements_of(document)}


# --------------------------------------------------------------------------------------------
# The lake bucket's lifecycle rules (local.lake_lifecycle_rules, storage.tf)
# --------------------------------------------------------------------------------------------

# python-hcl2 keeps a function call whole, as its text: the rules are `flatten([...])` of rule
# objects and, in their place in the order, the zones' `for` expression.
FLATTENED_LIST = re.compile(r"\$\{flatten\((\[.*\])\)\}", re.DOTALL)
ZONE_RULES = re.compile(
    r"\$\{\[for zone, transitions in var\.zone_transitions : (\{.*\})\]\}", re.DOTALL
)


def _expression(text: str):
    """The value python-hcl2 reads from an HCL expression's text, markers dropped, literals
    still quoted (so a literal "zone" and the reference zone stay apart)."""
    return _without_markers(hcl2.loads(f"value = {text}\n")["value"])


def _without_markers(value):
    if isinstance(value, dict):
        return {k: _without_markers(v) for k, v in value.items() if k not in HCL2_MARKERS}
    if isinstance(value, list):
        return [_without_markers(v) for v in value]
    return value


def _zone_rule(template: dict, zone: str, transitions: list) -> dict:
    """The zones' `for` expression's rule for one zone. It may refer to its own variables only
    (zone, transitions, trimsuffix(zone, "/")): anything else fails, not guessed."""
    templates = {"${zone}": zone, '${trimsuffix(zone, "/")}': zone.removesuffix("/")}
    rule = {}
    for key, raw in template.items():
        if raw in ("zone", "transitions"):  # python-hcl2 gives a bare variable as its name
            value = {"zone": zone, "transitions": transitions}[raw]
        elif isinstance(raw, str) and raw.startswith('"'):
            value = _unquote(raw)
            for placeholder, replacement in templates.items():
                value = value.replace(placeholder, replacement)
        else:
            value = raw
        assert not (isinstance(value, str) and "${" in value), f"{key} = {raw}: not evaluated"
        rule[key] = value
    return rule


def lake_lifecycle_rules(config, zone_transitions: dict) -> list[dict]:
    """local.lake_lifecycle_rules as Terraform makes it for `zone_transitions` (var's value): the
    rules in order, one rule per zone in the order of its key. Other variables stay references
    ("${var.quarantine_retention_days}"): the rules use the variable, whatever its value."""
    expression = locals_of(config)["lake_lifecycle_rules"]
    listed = FLATTENED_LIST.fullmatch(expression)
    assert listed, f"local.lake_lifecycle_rules is not flatten([...]): {expression}"
    rules = []
    for entry in _expression(listed.group(1)):
        if isinstance(entry, dict):
            rules.append(clean_hcl(entry))
            continue
        per_zone = ZONE_RULES.fullmatch(entry)
        assert per_zone, f"neither a rule nor the zones' rules: {entry}"
        template = _expression(per_zone.group(1))
        for zone in sorted(zone_transitions):  # Terraform's `for` over a map: in key order
            rules.append(_zone_rule(template, zone, zone_transitions[zone]))
    return rules
