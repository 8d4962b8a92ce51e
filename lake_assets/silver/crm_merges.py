"""CRM merges folded: a contact merged into another becomes part of it, through any chain
(A -> B -> C: A and B fold into C). Pure, so the rules are tested without Spark; the customer
job collects the (contact, merged_into) pairs of the CRM state, which are few, and resolves
them here."""

from __future__ import annotations

from collections.abc import Mapping


class MergeCycle(ValueError):
    """CRM contacts merged into each other in a loop: no contact survives, so nothing is
    published until the CRM breaks the loop."""

    def __init__(self, contacts: list[str]):
        self.contacts = contacts
        loop = " -> ".join([*contacts, contacts[0]])
        super().__init__(
            f"CRM merge cycle: {loop}; no contact survives the loop, fix merged_into in the CRM"
        )


def surviving_contacts(merged_into: Mapping[str, str | None]) -> dict[str, str]:
    """Each contact of `merged_into` (contact -> the contact it was merged into, or None) mapped
    to the contact it survives as: the end of its chain of merges (itself if never merged). A
    chain may end in a contact the state does not hold; that contact survives."""
    survivor: dict[str, str] = {}
    for start in merged_into:
        path: list[str] = []
        contact = start
        while contact not in survivor:
            if contact in path:
                raise MergeCycle(_canonical(path[path.index(contact) :]))
            path.append(contact)
            target = merged_into.get(contact)
            if not target:
                survivor[contact] = contact
                break
            contact = target
        for member in path:
            survivor[member] = survivor[contact]
    return survivor


def _canonical(loop: list[str]) -> list[str]:
    """The loop started at its smallest contact, so the message is the same however found."""
    first = loop.index(min(loop))
    return loop[first:] + loop[:first]
