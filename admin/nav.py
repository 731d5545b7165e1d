"""The admin web's navigation: a registry each section adds its pages to.

A section (Organisation today; Klassifikation, Adgang, Distribution, Forbrug
and the vendors' pages as they are built) calls `register()` once, at import,
with its label, the endpoint of its start page, the roles that may see it and
the endpoint prefix of its pages (to mark the current item).  The base layout
shows the items the logged-in user's role may see, so a page appears in the
navigation only once it exists and only for the roles whose access rule
(`authz.policy.admin_page`) lets them in.  The roles here are for showing
links; the access rule on each page is what decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from authz.policy import PlatformRole


@dataclass(frozen=True)
class NavItem:
    label: str          # Danish, as shown
    endpoint: str       # the start page, e.g. "admin.organisation_tree"
    roles: frozenset[PlatformRole]
    prefix: str         # pages whose endpoint starts with this belong to the item
    order: int


_ITEMS: list[NavItem] = []


def register(label: str, endpoint: str, *roles: PlatformRole, prefix: str | None = None, order: int = 100) -> None:
    """Add a section's start page to the navigation (once per process; a second call is ignored)."""
    if any(item.endpoint == endpoint for item in _ITEMS):
        return
    _ITEMS.append(NavItem(label, endpoint, frozenset(roles), prefix or endpoint, order))
    _ITEMS.sort(key=lambda item: (item.order, item.label))


def items_for(role: PlatformRole | str | None) -> list[NavItem]:
    """The items a user with `role` may see, in order."""
    return [item for item in _ITEMS if role is not None and PlatformRole(role) in item.roles]


def current(items: list[NavItem], endpoint: str | None) -> NavItem | None:
    """The item the page at `endpoint` belongs to (the longest matching prefix)."""
    matching = [item for item in items if endpoint and endpoint.startswith(item.prefix)]
    return max(matching, key=lambda item: len(item.prefix), default=None)
