"""`aws.organizations`: the inventory of environments, every account of the organization with its status.

`ListAccounts` is one bulk listing; the organizational-unit tree costs two small listings per unit
(units and accounts under each parent), which is cheap for the tens of units real organizations have
and tells an auditor which accounts are production, sandbox or suspended. An account that is not in
an organization is a recorded gap, not a failure: the evidence then says exactly that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector

from .common import Gaps, Target, or_gap, paginate, params_schema, raise_for_failed_targets, targets


def organization_units(org: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every root and unit with its path (`Root/Workloads/Prod`), and each account's parent ID."""
    units: list[dict[str, Any]] = []
    parent_of: dict[str, str] = {}
    queue = [(root, root["Name"]) for root in paginate(org, "list_roots", "Roots")]
    while queue:
        unit, path = queue.pop(0)
        keep = ("Id", "Arn", "Name", "ParentId")
        units.append({**{key: unit[key] for key in keep if key in unit}, "Path": path})
        for child in paginate(org, "list_children", "Children", ParentId=unit["Id"], ChildType="ACCOUNT"):
            parent_of[child["Id"]] = unit["Id"]
        for ou in paginate(
            org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=unit["Id"]
        ):
            queue.append(({**ou, "ParentId": unit["Id"]}, f"{path}/{ou['Name']}"))
    return units, parent_of


def _account_entry(
    account: dict[str, Any], parent_of: dict[str, str], paths: dict[str, str]
) -> dict[str, Any]:
    """One account as filed: identity, status (and the newer `State`), when and how it joined, its unit."""
    keep = ("Id", "Arn", "Name", "Email", "Status", "State", "JoinedMethod", "JoinedTimestamp")
    entry = {key: account[key] for key in keep if key in account}
    parent = parent_of.get(account["Id"])
    if parent is not None:
        entry["ParentId"], entry["Path"] = parent, paths.get(parent)
    return entry


class OrganizationsCollector(Collector):
    name = "aws.organizations"
    version = "1"
    description = (
        "Accounts in the AWS organization with their status, and (optionally) the organizational "
        "units they sit in: the inventory of environments."
    )
    principles = ("P5",)
    kind = "snapshot"
    permissions = (
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListRoots",
        "organizations:ListChildren",
        "organizations:ListOrganizationalUnitsForParent",
        "sts:GetCallerIdentity",
    )
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        {
            "include_ous": {
                "type": "boolean",
                "default": True,
                "description": "Also walk the organizational-unit tree (two listings per unit)",
            }
        }
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gaps, seen, organizations = Gaps(), set[str](), list[dict[str, Any]]()
        for target in targets(ctx, gaps, global_service=True):
            organizations.append(self._organization(ctx, target, gaps, seen))
        accounts = [a for org in organizations for a in org.get("accounts", [])]
        yield Artefact.json(
            "organizations",
            {"as_of": ctx.now, "organizations": organizations, "gaps": gaps.to_list()},
            source="organizations",
            summary={
                "organizations": len(seen),
                "accounts": len(accounts),
                "status": dict(Counter(str(a.get("Status")) for a in accounts)),
                "gaps": len(gaps.items),
            },
        )
        raise_for_failed_targets(gaps)

    def _organization(
        self, ctx: CollectContext, target: Target, gaps: Gaps, seen: set[str]
    ) -> dict[str, Any]:
        """What `target.account` sees of its organization; one already listed is only referenced."""
        org = target.client(ctx, "organizations")
        where = {"account": target.account, "region": target.region}
        described = or_gap(
            gaps, target.account, "organizations:DescribeOrganization", org.describe_organization, None
        )
        if described is None:
            return {**where, "organization": None}
        info = {k: v for k, v in described["Organization"].items() if k != "AvailablePolicyTypes"}
        if info["Id"] in seen:
            return {**where, "organization": info, "listed_above": True}
        seen.add(info["Id"])
        return {**where, "organization": info, **self._inventory(ctx, org, gaps, target.account)}

    def _inventory(self, ctx: CollectContext, org: Any, gaps: Gaps, where: str) -> dict[str, Any]:
        """The accounts (each with its unit path) and the unit tree, as far as the caller may see."""
        listing = or_gap(
            gaps,
            where,
            "organizations:ListAccounts",
            lambda: paginate(org, "list_accounts", "Accounts"),
            None,
        )
        units: list[dict[str, Any]] = []
        parent_of: dict[str, str] = {}
        if listing is not None and ctx.params.get("include_ous", True):
            tree = or_gap(gaps, where, "the organizational-unit tree", lambda: organization_units(org), None)
            units, parent_of = tree or ([], {})
        paths = {u["Id"]: u["Path"] for u in units}
        accounts = [_account_entry(a, parent_of, paths) for a in listing or []]
        return {"accounts": accounts, "organizational_units": units}


COLLECTORS = (OrganizationsCollector,)
