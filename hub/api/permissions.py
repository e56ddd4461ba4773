"""Who may do what over GraphQL: each role set defined once, the check that refuses the others, and
the strawberry permissions that put that check on a field.

A refusal is FORBIDDEN and names the client, its role, the action refused and the roles that may.
The permissions raise it themselves (rather than return False) so that the message names the
caller, which a permission's fixed `message` cannot.
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from hub.api.context import Info
from hub.clients import ClientInfo
from hub.errors import ForbiddenError

__all__ = [
    "AUDIT_ROLES",
    "GATEWAY_FIELDS",
    "GATEWAY_ROLE",
    "READ_ROLES",
    "WRITE_ROLES",
    "ReadsAccessLog",
    "ReadsAuditTrail",
    "ReadsHistory",
    "ReadsJudgements",
    "ReadsReviewQueue",
    "gateway_refusals",
    "require_role",
]

# The roles that read what stands behind entities: the review queue, histories, judgements.
READ_ROLES = frozenset({"steward", "auditor", "admin"})
# The roles that change entities: edits, overrides, undo, claiming and deciding review items.
WRITE_ROLES = frozenset({"steward", "admin"})
# The roles that read the audit trail and the access log.
AUDIT_ROLES = frozenset({"auditor", "admin"})
# The role of a federation gateway's own token, and the root fields it may read: the subgraph's SDL.
# Everything else a gateway asks for goes with the departmental client's token it forwards.
GATEWAY_ROLE = "gateway"
GATEWAY_FIELDS = frozenset({"_service", "__typename"})


def require_role(info: Info, roles: frozenset[str], action: str) -> None:
    """FORBIDDEN unless the calling client's role is one of `roles` (`action`: "read the audit trail")."""
    client = info.context.client
    if client is not None and client.role not in roles:
        raise ForbiddenError(
            f"client {client.name!r} ({client.role}) may not {action}; the roles that may are"
            f" {', '.join(sorted(roles))}"
        )


def gateway_refusals(
    client: ClientInfo | None, root_fields: list[tuple[str, str]]
) -> list[tuple[str, ForbiddenError]]:
    """FORBIDDEN for each root field (response key, field name) a gateway's token may not read."""
    if client is None or client.role != GATEWAY_ROLE:
        return []
    return [
        (
            key,
            ForbiddenError(
                f"client {client.name!r} ({GATEWAY_ROLE}) may not read {name}; the gateway role reads"
                " `_service { sdl }` only: send the departmental client's own token for everything else"
            ),
        )
        for key, name in root_fields
        if name not in GATEWAY_FIELDS
    ]


class _RolePermission(BasePermission):
    """A field only `roles` may resolve; refused with FORBIDDEN naming `action`."""

    roles: ClassVar[frozenset[str]]
    action: ClassVar[str]

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        require_role(info, self.roles, self.action)
        return True


class ReadsReviewQueue(_RolePermission):
    roles = READ_ROLES
    action = "read the review queue"


class ReadsHistory(_RolePermission):
    roles = READ_ROLES
    action = "read an entity's history"


class ReadsJudgements(_RolePermission):
    roles = READ_ROLES
    action = "read the judgements behind memberships"


class ReadsAuditTrail(_RolePermission):
    roles = AUDIT_ROLES
    action = "read the audit trail"


class ReadsAccessLog(_RolePermission):
    roles = AUDIT_ROLES
    action = "read the access log"
