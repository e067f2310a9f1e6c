"""Writes for accounts, organizations, memberships, invitations, teams and API keys, one
module per entity; callers use them as `services.<name>` through this package."""

from teams.services.accounts import auth_token_create, auth_token_revoke, auth_tokens_purge_expired, user_signup
from teams.services.api_keys import api_key_create, api_key_revoke
from teams.services.invitations import (
    invitation_accept,
    invitation_create,
    invitation_decline,
    invitation_email_recipient,
    invitation_email_send,
    invitation_revoke,
    invitations_purge,
)
from teams.services.memberships import member_add, member_change_role, member_remove, member_welcome
from teams.services.organizations import org_create, org_delete, org_update
from teams.services.teams import team_create, team_delete, team_update

__all__ = [
    "api_key_create",
    "api_key_revoke",
    "auth_token_create",
    "auth_token_revoke",
    "auth_tokens_purge_expired",
    "invitation_accept",
    "invitation_create",
    "invitation_decline",
    "invitation_email_recipient",
    "invitation_email_send",
    "invitation_revoke",
    "invitations_purge",
    "member_add",
    "member_change_role",
    "member_remove",
    "member_welcome",
    "org_create",
    "org_delete",
    "org_update",
    "team_create",
    "team_delete",
    "team_update",
    "user_signup",
]
