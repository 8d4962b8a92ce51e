"""The policy engine: `load_policy_set(folder)` reads config/access/*.yaml into a PolicySet, and
`PolicySet.decide(subject, resource, context)` answers one access question with a Decision. Pure
and deterministic: the same question against the same policies gives the same Decision, whatever
order the policies or files come in (every collection is sorted by policy id before use).

How a column's treatment is decided (ADR-0075):
1. A column without a sensitivity (not yet classified) is denied.
2. The applicable rules are the dataset's (policies that test no column attribute) and the
   column's. An applicable exception lifts the policies it names; the rest stand.
3. Without a standing allow or an applicable exception the column is denied (default deny).
   Otherwise the strictest treatment of the standing policies and exceptions wins
   (TREATMENT_ORDER): a standing deny overrides every allow.
4. Lineage: the column gets the strictest of its own treatment and each origin's (decided the
   same way, recursively), except through an origin whose `safe` names a declared safe
   transformation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from lake_assets.access.model import (
    DENY,
    Column,
    ColumnDecision,
    Context,
    Decision,
    Resource,
    Subject,
    input_hash,
)
from lake_assets.access.policies import AccessFile, render_row_filter
from lake_assets.access.rules import (
    Evaluation,
    Rule,
    RuleIndex,
    evaluate,
    exception_rule,
    policy_rule,
    subject_check,
)
from lake_assets.config import ConfigError, load_config
from lake_assets.settings import DEFAULT_ACCESS_DIR

_SUBJECTS_REMEMBERED = 1024


class PolicySet:
    """Every policy, exception and profile of config/access/, indexed for deciding."""

    def __init__(
        self,
        rules: Iterable[Rule],
        profiles: Mapping[str, Subject],
        safe_transformations: Mapping[str, str],
    ):
        ordered = sorted(rules, key=lambda rule: rule.id)
        self.rules: Mapping[str, Rule] = {rule.id: rule for rule in ordered}
        self.profiles: Mapping[str, Subject] = dict(sorted(profiles.items()))
        self.safe_transformations = dict(sorted(safe_transformations.items()))
        self.versions: Mapping[str, str] = {rule.id: rule.version for rule in ordered}
        self.digest = hashlib.sha256(repr(sorted(self.versions.items())).encode()).hexdigest()
        self._index = RuleIndex(ordered)
        self._subject_checks: dict[tuple[str, str], dict] = {}

    def subject_checks(self, subject: Subject) -> dict:
        """Rule id -> its subject tests' result for `subject`, filled as rules are evaluated
        and kept for the next question of the same subject (a lake has few profiles)."""
        key = (subject.name, repr(sorted(subject.attributes.items())))
        if len(self._subject_checks) > _SUBJECTS_REMEMBERED:
            self._subject_checks.clear()
        return self._subject_checks.setdefault(key, {})

    def is_safe(self, transformation: str | None) -> bool:
        """Whether a declared safe transformation covers `transformation`: the same name, or
        "aggregate>=k" for a declared "aggregate>=K" with k >= K (larger groups are safer)."""
        if transformation is None:
            return False
        if transformation in self.safe_transformations:
            return True
        kind, _, k = transformation.partition(">=")
        return k.isdigit() and any(
            declared.partition(">=")[0] == kind and int(k) >= int(declared.partition(">=")[2])
            for declared in self.safe_transformations
            if declared.partition(">=")[2].isdigit()
        )

    def profile(self, name: str) -> Subject:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(self.profiles) or "none"
            raise KeyError(f"no subject profile {name!r} (profiles: {known})") from None

    def decide(self, subject: Subject, resource: Resource, context: Context) -> Decision:
        return _Deciding(self, subject, context).decision(resource)


def load_policy_set(folder: Path | str = DEFAULT_ACCESS_DIR) -> PolicySet:
    """Every *.yaml file of `folder`, validated; any invalid file fails the whole set (callers
    then have no policies to allow anything: fail closed)."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise ConfigError(folder, "-", "no policy files (*.yaml)")
    return build_policy_set([(path, load_config(path, AccessFile)) for path in paths])


def build_policy_set(files: Sequence[tuple[Path | str, AccessFile]]) -> PolicySet:
    """A PolicySet from validated files; checks that span files (unique ids and profile names,
    an exception lifting a policy that exists and restricts) raise ConfigError."""
    rules: dict[str, Rule] = {}
    profiles: dict[str, tuple[str, Subject]] = {}
    safe: dict[str, str] = {}
    lifts: list[tuple[str, str, Sequence[str]]] = []
    for path, document in files:
        file = str(path)
        for number, policy in enumerate(document.policies):
            _claim(rules, policy.id, file, f"policies[{number}].id")
            rules[policy.id] = policy_rule(policy, file)
        for number, exception in enumerate(document.exceptions):
            _claim(rules, exception.id, file, f"exceptions[{number}].id")
            rules[exception.id] = exception_rule(exception, file)
            lifts.append((file, f"exceptions[{number}].lifts", exception.lifts))
        for name, attributes in document.profiles.items():
            if name in profiles:
                raise ConfigError(file, f"profiles.{name}", f"also defined in {profiles[name][0]}")
            profiles[name] = (file, Subject(name, dict(sorted(attributes.items()))))
        for name, why in document.safe_transformations.items():
            if safe.get(name, why) != why:
                raise ConfigError(file, f"safe_transformations.{name}", "defined differently")
            safe[name] = why
    for file, key, lifted in lifts:
        for number, policy_id in enumerate(lifted):
            target = rules.get(policy_id)
            if target is None or target.kind == "exception":
                raise ConfigError(file, f"{key}[{number}]", f"no policy {policy_id!r} to lift")
            if target.grants.strictness == 0:
                raise ConfigError(file, f"{key}[{number}]", f"{policy_id!r} restricts nothing")
    return PolicySet(rules.values(), {n: s for n, (_, s) in profiles.items()}, safe)


def _claim(rules: Mapping[str, Rule], rule_id: str, file: str, key: str) -> None:
    if rule_id in rules:
        raise ConfigError(file, key, f"id {rule_id!r} is also used in {rules[rule_id].file}")


class _Deciding:
    """One question being decided: collects what matched, what was evaluated (for the policy
    versions) and, for what is denied, the conditions that were not met."""

    def __init__(self, policies: PolicySet, subject: Subject, context: Context):
        self.policies, self.subject, self.context = policies, subject, context
        self.evaluated: dict[str, str] = {}
        self.matched: set[str] = set()
        self.unmet: list[str] = []
        self._dataset_evaluations: dict[str, tuple[Evaluation, ...]] = {}
        self._who = policies.subject_checks(subject)
        self._columns: dict[str, ColumnDecision] = {}

    def decision(self, resource: Resource) -> Decision:
        own = self._dataset(resource)
        columns = {c.name: self._column(resource, c, own) for c in resource.columns}
        applying = [e.rule for e in own if e.applies]
        standing, allowing = _standing(applying)
        deny = next((r for r in standing if r.kind == "deny"), None)
        readable = [d for d in columns.values() if d.treatment != DENY]
        # With columns asked, the dataset is readable when one of them is (a dataset-level deny
        # denies every column unless an exception lifted it for some).
        allowed = bool(readable) if columns else deny is None and bool(allowing)
        if not allowed:
            outcome = "deny"
            decided_by, reason = _deny_reason(deny, columns, resource, self.subject)
            if not columns:
                self._note_unmet(resource.dataset, own, {r.id for r in applying}, deny)
        else:
            outcome = "allow"
            dataset_allow = allowing[0] if allowing and deny is None else None
            decided_by = dataset_allow.id if dataset_allow else readable[0].decided_by
            reason = f"allowed by {decided_by}"
            if columns:
                reason += f"; {len(readable)} of {len(columns)} columns readable"
        # Every applying allow's row filter, lifted or not: an exception lifts a mask or a
        # deny, never a row filter (ADR-0075).
        allows = [r for r in applying if r.kind == "allow"]
        row_filters = sorted(set(self._row_filters(resource.dataset, allows, outcome)))
        question = input_hash(self.subject, resource, self.context)
        decision_id = hashlib.sha256(f"{question}:{self.policies.digest}".encode()).hexdigest()
        return Decision(
            decision_id=decision_id[:32],
            subject=self.subject.name,
            dataset=resource.dataset,
            outcome=outcome,
            columns=columns,
            decided_by=decided_by,
            reason=reason,
            matched=tuple(sorted(self.matched)),
            unmet=tuple(dict.fromkeys(self.unmet)),
            row_filter=" AND ".join(f"({p})" for p in row_filters) if row_filters else None,
            policy_versions=dict(sorted(self.evaluated.items())),
            input_hash=question,
        )

    def _row_filters(self, dataset: str, allows: Iterable[Rule], outcome: str) -> Iterable[str]:
        """The allows' row filters for this subject (none for a denied dataset)."""
        for rule in allows:
            if rule.row_filter and outcome == "allow":
                predicate, lacking = render_row_filter(rule.row_filter, self.subject.attributes)
                for attribute in lacking:
                    self.unmet.append(
                        f"{dataset}: row filter of {rule.id} needs subject.{attribute} "
                        "(attribute missing or not a single value): no rows"
                    )
                yield predicate

    def _dataset(self, resource: Resource) -> tuple[Evaluation, ...]:
        """The dataset-level rules evaluated for `resource` (once per dataset per question)."""
        found = self._dataset_evaluations.get(resource.dataset)
        if found is None:
            values = {"dataset": resource.dataset}
            if "zone" in resource.attributes:
                values["zone"] = resource.attributes["zone"]
            candidates = self.policies._index.candidates(values, column_level=False)
            found = self._evaluate(candidates, resource, None)
            self._dataset_evaluations[resource.dataset] = found
        return found

    def _evaluate(
        self, rules: Iterable[Rule], resource: Resource, column: Column | None
    ) -> tuple[Evaluation, ...]:
        evaluations = []
        for rule in rules:
            who = self._who.get(rule.id)
            if who is None:
                who = self._who[rule.id] = subject_check(rule, self.subject)
            evaluation = evaluate(rule, resource, column, self.context, who)
            self.evaluated[rule.id] = rule.version
            if evaluation.applies:
                self.matched.add(rule.id)
            evaluations.append(evaluation)
        return tuple(evaluations)

    def _column(
        self, resource: Resource, column: Column, dataset: tuple[Evaluation, ...]
    ) -> ColumnDecision:
        # A source column feeding several derived columns of one question is decided once.
        name = f"{resource.dataset}.{column.name}"
        found = self._columns.get(name)
        if found is None:
            found = self._columns[name] = self._decide_column(resource, column, dataset, name)
        return found

    def _decide_column(
        self, resource: Resource, column: Column, dataset: tuple[Evaluation, ...], name: str
    ) -> ColumnDecision:
        if "sensitivity" not in column.attributes:
            self.unmet.append(f"{name}: not yet classified (no sensitivity)")
            own = ColumnDecision(column.name, DENY, None, f"{name} is not yet classified")
        else:
            own = self._own_column(resource, column, dataset, name)
        for origin in column.origins:
            if own.treatment == DENY:
                break  # nothing an origin passes on is stricter
            if self.policies.is_safe(origin.safe):
                continue  # a declared safe transformation does not pass the restriction on
            source = Resource(origin.dataset, origin.dataset_attributes)
            inherited = self._column(source, origin.column, self._dataset(source))
            if inherited.treatment.strictness <= own.treatment.strictness:
                continue
            source_name = f"{origin.dataset}.{origin.column.name}"
            how = origin.transformation.lower()
            if origin.safe is not None:
                how += f", {origin.safe!r} is not a declared safe transformation"
            own = ColumnDecision(
                column.name,
                inherited.treatment,
                inherited.decided_by,
                f"inherits {inherited.treatment} from {source_name} ({how}): {inherited.reason}",
                (name, *(inherited.path or (source_name,))),
            )
        return own

    def _own_column(
        self, resource: Resource, column: Column, dataset: tuple[Evaluation, ...], name: str
    ) -> ColumnDecision:
        values = {
            "dataset": resource.dataset,
            "column": column.name,
            **{
                k: column.attributes[k]
                for k in ("semantic_type", "sensitivity")
                if k in column.attributes
            },
        }
        zone = column.attributes.get("zone", resource.attributes.get("zone"))
        if zone is not None:
            values["zone"] = zone
        candidates = self.policies._index.candidates(values, column_level=True)
        evaluations = (*dataset, *self._evaluate(candidates, resource, column))
        applying = sorted((e.rule for e in evaluations if e.applies), key=_by_id)
        standing, allowing = _standing(applying)
        deny = next((r for r in standing if r.kind == "deny"), None)
        if deny is not None or not allowing:
            self._note_unmet(name, evaluations, {r.id for r in applying}, deny)
        if deny is not None:
            return ColumnDecision(column.name, DENY, deny.id, _words(deny, "denied by"))
        if not allowing:
            return ColumnDecision(
                column.name, DENY, None, f"no policy allows {self.subject.name} to read {name}"
            )
        # The strictest wins; among equally strict an exception (it is why the column is
        # readable at all), then the lowest id (max keeps the first of equals).
        decider = max(allowing, key=lambda r: (r.grants.strictness, r.kind == "exception"))
        return ColumnDecision(
            column.name, decider.grants, decider.id, _words(decider, f"{decider.grants} by")
        )

    def _note_unmet(
        self,
        name: str,
        evaluations: Iterable[Evaluation],
        applying: set[str] = frozenset(),
        deny: Rule | None = None,
    ) -> None:
        """Why what could have allowed did not: for a deny, the exceptions that would lift it;
        for a default deny, the allows (and exceptions) about this resource."""
        noted = False
        for e in evaluations:
            if not e.in_scope or e.applies or e.rule.kind == "deny":
                continue
            if e.rule.kind == "exception" and not e.rule.lifts & applying:
                continue
            if e.rule.kind == "allow" and deny is not None:
                continue
            self.unmet.append(f"{name}: {e.rule.kind} {e.rule.id} {e.why_not()}")
            noted = True
        if deny is not None and not noted:
            self.unmet.append(f"{name}: no exception in scope lifts {deny.id}")
        elif not noted:
            self.unmet.append(f"{name}: no allow policy is about this resource")


def _by_id(rule: Rule) -> str:
    return rule.id


def _standing(applying: Sequence[Rule]) -> tuple[list[Rule], list[Rule]]:
    """The applicable policies not lifted by an applicable exception, and what allows (standing
    allows and the lifting exceptions), each in the order given (by id)."""
    ids = {r.id for r in applying}
    # An exception counts only where a policy it lifts applies: it lifts, it does not grant.
    exceptions = [r for r in applying if r.kind == "exception" and r.lifts & ids]
    lifted = {policy_id for r in exceptions for policy_id in r.lifts}
    standing = [r for r in applying if r.kind != "exception" and r.id not in lifted]
    allowing = sorted(exceptions + [r for r in standing if r.kind == "allow"], key=_by_id)
    return standing, allowing


def _words(rule: Rule, verb: str) -> str:
    kind = "exception" if rule.kind == "exception" else "policy"
    lifted = f" lifting {', '.join(sorted(rule.lifts))}" if rule.lifts else ""
    about = f": {rule.description}" if rule.description else ""
    return f"{verb} {kind} {rule.id}{lifted}{about}"


def _deny_reason(
    deny: Rule | None, columns: Mapping[str, ColumnDecision], resource: Resource, subject: Subject
) -> tuple[str | None, str]:
    if deny is not None:
        return deny.id, _words(deny, "denied by")
    if columns:
        first = next(iter(columns.values()))
        return first.decided_by, f"every column asked is denied ({first.column}: {first.reason})"
    return None, f"no policy allows {subject.name} to read {resource.dataset}"
