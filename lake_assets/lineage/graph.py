"""Walking lineage records: backwards to the raw files behind an output, forwards to everything
a raw file feeds. Pure functions over a list of LineageRun records (any states, any order).

The producer of an output is its *current* producer: the latest COMPLETE run that wrote it and
that no other COMPLETE run supersedes. Older runs stay in the store (for `as_of_run`), but a
trace never mixes their inputs into what is published now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lake_assets.lineage.model import LineageRun


@dataclass(frozen=True)
class LineageTree:
    """A lake key and, when a run produced it, that run; `children` are the run's inputs
    (trace) or the outputs fed by the key (impact). `cycle` marks a key already on the path."""

    key: str
    run_id: str | None = None
    job: str | None = None
    partition: str | None = None
    supersedes: str | None = None
    cycle: bool = False
    children: tuple[LineageTree, ...] = field(default=())

    def leaves(self) -> set[str]:
        """Keys with no producer (trace) or no consumer (impact): raw files, final outputs."""
        if not self.children:
            return set() if self.cycle else {self.key}
        return set().union(*(child.leaves() for child in self.children))


def _completed(runs: Iterable[LineageRun]) -> list[LineageRun]:
    # One record per run id; ended_at, then run_id, orders reruns deterministically.
    unique = {run.run_id: run for run in runs if run.state == "COMPLETE"}
    return sorted(unique.values(), key=lambda run: (run.ended_at or "", run.run_id))


def _groups(outputs: Sequence[str]) -> list[list[str]]:
    """Outputs as partitions: an address `<dataset>[<partition>]` with the file keys listed
    after it (the order partition_outputs gives); any other key before an address is alone."""
    groups: list[list[str]] = []
    for key in outputs:
        if groups and groups[-1][0].endswith("]") and not key.endswith("]"):
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups


def _inputs_behind(run: LineageRun, key: str) -> tuple[str, ...]:
    """The run's inputs behind one of its outputs: its partition's own inputs when the run
    recorded them per partition, else all of them."""
    if not run.partition_inputs:
        return run.inputs
    owning = [
        group[0]
        for group in _groups(run.outputs)
        if any(k == key or (key.endswith("/") and k.startswith(key)) for k in group)
    ]
    chosen = [i for address in owning for i in run.partition_inputs.get(address, run.inputs)]
    return tuple(dict.fromkeys(chosen)) or run.inputs


def _writers(
    runs: Sequence[LineageRun], as_of: LineageRun | None = None
) -> tuple[dict[str, LineageRun], dict[str, LineageRun]]:
    """(current, historic): output key -> its current producer, and -> the latest run that
    wrote it at all. A run retires, of every earlier run's outputs, each partition it rewrote
    (the address with its files) and each plain key it rewrote, so a rerun of one partition of
    a range leaves the range run the producer of the rest, and a rerun over the ranges of
    several runs retires what it rewrote of each. With `as_of`, producers are as that run saw
    them: itself for its outputs, otherwise runs finished before it started."""
    completed = _completed(runs)
    if as_of is not None:
        completed = [
            run
            for run in completed
            if run.run_id == as_of.run_id or (run.ended_at or "") <= as_of.started_at
        ]
    by_id = {run.run_id: run for run in completed}
    retired: set[tuple[str, str]] = set()
    for run in completed:  # what a run superseded, even if that run finished later
        old = by_id.get(run.supersedes or "")
        if old is None:
            continue
        rewritten = set(run.outputs)
        for group in _groups(old.outputs):
            if group[0] in rewritten:
                retired.update((old.run_id, key) for key in group)
    # Then the last run to write each partition (or plain key) of what is left: a rerun may
    # span the ranges of several runs, and `supersedes` names one of them.
    kept = [
        (run.run_id, group)
        for run in completed
        for group in _groups(run.outputs)
        if (run.run_id, group[0]) not in retired
    ]
    last_writer = {group[0]: run_id for run_id, group in kept}
    retired.update(
        (run_id, key) for run_id, group in kept if last_writer[group[0]] != run_id for key in group
    )
    current: dict[str, LineageRun] = {}
    historic: dict[str, LineageRun] = {}
    for run in completed:  # oldest first, so later runs win
        for key in run.outputs:
            historic[key] = run
            if (run.run_id, key) not in retired:
                current[key] = run
    if as_of is not None:
        current.update(dict.fromkeys(as_of.outputs, as_of))
    return current, historic


def _producers(
    runs: Sequence[LineageRun], as_of: LineageRun | None = None
) -> dict[str, LineageRun]:
    """Output key -> its current producer; retired outputs (an old run's files) have none."""
    return _writers(runs, as_of)[0]


def _producers_of(key: str, producers: dict[str, LineageRun]) -> list[LineageRun]:
    """The run behind `key`; for a folder key, every run behind an output inside it."""
    if key in producers:
        return [producers[key]]
    if not key.endswith("/"):
        return []
    found = {run.run_id: run for out, run in producers.items() if out.startswith(key)}
    return list(found.values())


def trace(runs: Sequence[LineageRun], target: str, as_of_run: str | None = None) -> LineageTree:
    """Backwards from `target` (an output key, a folder key or `<dataset>[<partition>]`) to
    every file that contributed, through any number of hops."""
    as_of = None
    if as_of_run is not None:
        as_of = next((r for r in _completed(runs) if r.run_id == as_of_run), None)
        if as_of is None:
            raise KeyError(f"no COMPLETE run {as_of_run!r} in the lineage store")
    current, historic = _writers(runs, as_of)

    def walk(key: str, path: frozenset[str]) -> LineageTree:
        if key in path:
            return LineageTree(key, cycle=True)
        # A file no longer published (or read by a run before it was replaced) still traces
        # through the run that wrote it.
        found = _producers_of(key, current) or _producers_of(key, historic)
        if not found:
            return LineageTree(key)
        # A folder traces through the outputs in it that are current, not every partition its
        # producers ever wrote there (one a later run replaced read other inputs).
        inside = [
            (out, r) for out, r in current.items() if key.endswith("/") and out.startswith(key)
        ]
        behind = (
            (i for out, r in inside for i in _inputs_behind(r, out))
            if inside
            else (i for run in found for i in _inputs_behind(run, key))
        )
        inputs = dict.fromkeys(behind)
        children = tuple(walk(i, path | {key}) for i in inputs)
        run = found[0]
        if len(found) > 1:  # a folder written by several runs: name them all
            return LineageTree(key, ",".join(r.run_id for r in found), children=children)
        return LineageTree(key, run.run_id, run.job, run.partition, run.supersedes, False, children)

    return walk(target, frozenset())


def impact(runs: Sequence[LineageRun], raw_key: str) -> LineageTree:
    """Forwards from `raw_key` to every output it feeds today, through any number of hops."""
    producers = _producers(runs)
    current = {run.run_id: run for run in producers.values()}
    consumers: dict[str, list[LineageRun]] = {}
    for run in current.values():
        for key in run.inputs:
            consumers.setdefault(key, []).append(run)

    def walk(key: str, run: LineageRun | None, path: frozenset[str]) -> LineageTree:
        node = {"run_id": run.run_id, "job": run.job, "partition": run.partition} if run else {}
        if key in path:
            return LineageTree(key, cycle=True, **node)
        children = tuple(
            walk(out, consumer, path | {key})
            for consumer in consumers.get(key, [])
            for out in consumer.outputs
            # only what the consumer still produces, and built from this key
            if producers.get(out) is consumer and key in _inputs_behind(consumer, out)
        )
        return LineageTree(key, children=children, **node)

    return walk(raw_key, None, frozenset())


def completed_with(stored: LineageRun | None, run: LineageRun) -> LineageRun:
    """`run` as its record is kept over `stored`, the run's record already kept: a COMPLETE
    record only grows, whoever completes it (the run itself, a drain of its outbox, a retried
    step), in whatever order they write. Its partitions are the union, a partition `run` names
    again as `run` names it."""
    if stored is None or run.state != "COMPLETE" or stored.state != "COMPLETE":
        return run
    groups = {group[0]: group for group in _groups(stored.outputs)}
    groups.update({group[0]: group for group in _groups(run.outputs)})
    return replace(
        run,
        inputs=tuple(dict.fromkeys((*stored.inputs, *run.inputs))),
        outputs=tuple(key for group in groups.values() for key in group),
        partition_inputs={**stored.partition_inputs, **run.partition_inputs},
        supersedes=run.supersedes or stored.supersedes,
    )


def supersedes_for(runs: Sequence[LineageRun], outputs: Iterable[str]) -> str | None:
    """The run currently producing any of `outputs`: what a rerun of them supersedes."""
    producers = _producers(runs)
    return next((producers[key].run_id for key in outputs if key in producers), None)


def render(tree: LineageTree, indent: str = "  ") -> str:
    """An indented tree, one key per line, with the run that produced (or consumes) it."""
    lines: list[str] = []

    def walk(node: LineageTree, depth: int) -> None:
        note = ""
        if node.run_id:
            note = f"  <- run {node.run_id}"
            if node.job:
                note += f" ({node.job}{f' {node.partition}' if node.partition else ''})"
            if node.supersedes:
                note += f", supersedes {node.supersedes}"
        if node.cycle:
            note += "  (cycle)"
        lines.append(f"{indent * depth}{node.key}{note}")
        for child in node.children:
            walk(child, depth + 1)

    walk(tree, 0)
    return "\n".join(lines)


def to_json(tree: LineageTree) -> dict[str, Any]:
    """The tree as plain JSON types, with its leaves listed once at the top."""

    def node(t: LineageTree) -> dict[str, Any]:
        return {
            "key": t.key,
            "run_id": t.run_id,
            "job": t.job,
            "partition": t.partition,
            "supersedes": t.supersedes,
            "cycle": t.cycle,
            "children": [node(child) for child in t.children],
        }

    return {**node(tree), "leaves": sorted(tree.leaves())}
