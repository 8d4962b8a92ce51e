"""Lake Formation's grants on the masked views (ADR-0161): each access profile's consumer role
(Terraform declares one per profile of config/access/profiles.yaml, its ARN `<prefix><profile>`)
may SELECT exactly its profile's views, and no grant outlives the view or the policy behind it.

The definer keeps them: it created the views, and a table's creator holds it with grant option.
Only SELECT grants to the consumer roles on the views database are this module's; any other
grant there (an auditor's DESCRIBE, an administrator's own) is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lake_assets.access.views import View

SELECT = "SELECT"
# BatchGrantPermissions and BatchRevokePermissions take at most 20 entries a call.
BATCH = 20
# The likeliest cause: a profile added to config/access before Terraform made its role.
REFUSED_HINT = (
    "(each access profile's consumer role is made by terraform/consumers.tf from "
    "config/access/profiles.yaml: apply it after adding a profile)"
)


@dataclass(frozen=True, order=True)
class ViewGrant:
    principal: str  # a consumer role's ARN
    view: str  # a table of the views database

    def __str__(self) -> str:
        return f"{self.view} to {self.principal.rsplit('/', 1)[-1]}"


def consumer_grants(views: Iterable[View], role_arn_prefix: str) -> set[ViewGrant]:
    """The grants the views call for: each view to its profile's consumer role."""
    return {ViewGrant(role_arn_prefix + view.profile, view.name) for view in views}


class GrantRefused(RuntimeError):
    """Lake Formation refused some entries of a batch: each named with its reason."""


class ViewGrants:
    """The consumer roles' SELECT grants on one views database, through `lakeformation` (a
    client of the definer's: `AssumedRole.client("lakeformation")`)."""

    def __init__(self, database: str, lakeformation: Any, role_arn_prefix: str):
        self.database, self.role_arn_prefix = database, role_arn_prefix
        self._lf = lakeformation

    def current(self) -> set[ViewGrant]:
        """The SELECT grants of the views database's tables to a consumer role."""
        found = set()
        for permission in self._table_permissions():
            table = permission["Resource"].get("Table", {})
            principal = permission["Principal"]["DataLakePrincipalIdentifier"]
            if (
                table.get("DatabaseName") == self.database
                and "Name" in table
                and principal.startswith(self.role_arn_prefix)
                and SELECT in permission["Permissions"]
            ):
                found.add(ViewGrant(principal, table["Name"]))
        return found

    def revoke(self, grants: Iterable[ViewGrant]) -> list[str]:
        return self._batch(self._lf.batch_revoke_permissions, sorted(grants))

    def grant(self, grants: Iterable[ViewGrant]) -> list[str]:
        return self._batch(self._lf.batch_grant_permissions, sorted(grants))

    def _table_permissions(self) -> Iterator[dict]:
        # Lake Formation's SDK has no paginator for ListPermissions.
        token = None
        while True:
            page = self._lf.list_permissions(
                ResourceType="TABLE", **({"NextToken": token} if token else {})
            )
            yield from page["PrincipalResourcePermissions"]
            token = page.get("NextToken")
            if not token:
                return

    def _batch(self, call, grants: Sequence[ViewGrant]) -> list[str]:
        refused = []
        for start in range(0, len(grants), BATCH):
            chunk = grants[start : start + BATCH]
            entries = [
                {
                    "Id": str(index),
                    "Principal": {"DataLakePrincipalIdentifier": grant.principal},
                    "Resource": {"Table": {"DatabaseName": self.database, "Name": grant.view}},
                    "Permissions": [SELECT],
                }
                for index, grant in enumerate(chunk)
            ]
            for failure in call(Entries=entries).get("Failures", []):
                grant = chunk[int(failure["RequestEntry"]["Id"])]
                error = failure.get("Error", {})
                refused.append(f"{grant}: {error.get('ErrorCode')} {error.get('ErrorMessage')}")
        if refused:
            raise GrantRefused(
                "Lake Formation refused:\n" + "\n".join(refused) + f"\n{REFUSED_HINT}"
            )
        return [str(grant) for grant in grants]
