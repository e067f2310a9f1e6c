"""Extension points for apps above `teams`, which `teams` may not import.

`goals` registers here, in its AppConfig.ready, what must follow a member's departure (unassign
what they owned) and a change of an organization's time zone or settings (recompute derived
values). Handlers run in the caller's transaction, so the change and its consequences commit
together.
"""

from typing import Any, Protocol


class MemberDeparted(Protocol):
    def __call__(self, *, org: Any, user_id: int) -> None: ...


class OrgSettingsChanged(Protocol):
    def __call__(self, *, org: Any, changed: set[str]) -> None: ...


member_departed: list[MemberDeparted] = []
org_settings_changed: list[OrgSettingsChanged] = []


def register(hooks: list[Any], handler: Any) -> None:
    if handler not in hooks:
        hooks.append(handler)
