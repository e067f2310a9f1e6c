"""Writes for accounts, organizations, memberships, teams and API keys."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from alignment_service.access import Access, Role
from alignment_service.activity.services import activity_record
from alignment_service.db import (
    DERIVED_VALUES_LOCK,
    check_parent_acyclic,
    delete_or_conflict,
    lock_org,
    matching_identifier,
)
from alignment_service.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from alignment_service.notifications.email import email_send
from alignment_service.outbox.services import outbox_enqueue
from teams import credentials, hooks, selectors
from teams.models import (
    ApiKey,
    AuthToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Team,
    TeamMember,
    User,
)

# --- Accounts ---------------------------------------------------------------------------------


@transaction.atomic
def user_signup(*, username: str, email: str, password: str) -> User:
    if not settings.SIGNUP_ENABLED:
        raise PermissionDenied("Signup is disabled on this server.", code="signup_disabled")
    user = User(username=username, email=email)
    errors: dict[str, list[Any]] = {}
    try:
        user.full_clean(exclude=["password"], validate_constraints=False)
    except DjangoValidationError as exc:
        errors.update(exc.error_dict)
    if "username" not in errors and matching_identifier(User.objects.all(), "username", user.username).exists():
        errors["username"] = [DjangoValidationError("A user with that username already exists.", code="unique")]
    if email and User.objects.filter(email__iexact=email).exists():
        errors.setdefault("email", []).append(
            DjangoValidationError("A user with that email already exists.", code="unique")
        )
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        errors["password"] = exc.error_list
    if errors:
        raise DjangoValidationError(errors)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def auth_token_create(*, user: User) -> tuple[AuthToken, str]:
    secret = credentials.new_secret(credentials.USER_TOKEN_PREFIX)
    token = AuthToken.objects.create(
        user=user,
        key_hash=credentials.digest(secret),
        prefix=credentials.display_prefix(secret),
        expires_at=timezone.now() + timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS),
    )
    return token, secret


def auth_token_revoke(*, token: AuthToken) -> None:
    AuthToken.objects.filter(pk=token.pk).delete()


def auth_tokens_purge_expired(*, now: datetime | None = None) -> int:
    deleted, _ = AuthToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


# --- Organizations ----------------------------------------------------------------------------


@transaction.atomic
def org_create(*, user: User, name: str, slug: str) -> Organization:
    """Create an organization whose creator is its first owner."""
    org = Organization(name=name, slug=slug)
    org.full_clean()
    org.save()
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    activity_record(
        access=Access(org=org, user=user, role=Role.OWNER), verb="org.created", subject_type="org",
        subject_id=org.pk, summary=f"created the organization {org.name}",
    )  # fmt: skip
    return org


@transaction.atomic
def org_update(
    *,
    access: Access,
    name: str | None = None,
    timezone_name: str | None = None,
    rule_settings: dict[str, Any] | None = None,
) -> Organization:
    lock_org(DERIVED_VALUES_LOCK, access.org.pk)  # new settings may change every derived value
    org = Organization.objects.select_for_update(no_key=True).get(pk=access.org.pk)
    before = {"timezone": org.timezone, **org.rule_settings}
    if name is not None:
        org.name = name
    if timezone_name is not None:
        org.timezone = timezone_name
    if rule_settings:
        org.settings = {**org.settings, **rule_settings}
    org.full_clean()
    org.save()
    after = {"timezone": org.timezone, **org.rule_settings}
    rules_changed = {key for key in after if after[key] != before[key]}
    if rules_changed:
        for handler in hooks.org_rules_changed:
            handler(org=org, changed=rules_changed)
    changed = [
        name for name, value in (("name", name), ("timezone", timezone_name), ("settings", rule_settings)) if value
    ]
    activity_record(
        access=access, verb="org.updated", subject_type="org", subject_id=org.pk,
        summary=f"changed the organization's {', '.join(changed) or 'nothing'}",
        data={"settings": rule_settings or {}, "timezone": timezone_name},
    )  # fmt: skip
    return org


@transaction.atomic
def org_delete(*, access: Access) -> None:
    access.org.delete()


# --- Memberships ------------------------------------------------------------------------------


def _require_owner_to_touch_owners(access: Access, *roles: str) -> None:
    if Role.OWNER in roles and not access.has_role(Role.OWNER):
        raise PermissionDenied("Only an owner can grant, change or remove the owner role.")


def _lock_owners(org: Organization) -> list[Membership]:
    return list(Membership.objects.select_for_update(no_key=True).filter(organization=org, role=Role.OWNER))


@transaction.atomic
def member_add(*, access: Access, user: User, role: Role) -> Membership:
    """Make `user` a member at once, without asking them: for the demo, fixtures and operators.
    No API route calls this; people join through `invitation_accept`."""
    _require_owner_to_touch_owners(access, role)
    if Membership.objects.filter(organization=access.org, user=user).exists():
        raise ValidationFailed("This user is already a member.", code="already_member", attr="user")
    return _membership_create(access=access, user=user, role=role, summary=f"added {user.username} as {role}", data={})


def _membership_create(
    *, access: Access, user: User, role: Role | str, summary: str, data: dict[str, Any]
) -> Membership:
    try:
        with transaction.atomic():
            membership = Membership.objects.create(organization=access.org, user=user, role=role)
    except IntegrityError:
        raise Conflict("This user is already a member.", code="already_member") from None
    outbox_enqueue(
        org=access.org,
        task_name="teams.send_welcome_email",
        kwargs={"org_id": str(access.org.pk), "membership_id": str(membership.pk)},
    )
    activity_record(
        access=access, verb="member.added", subject_type="member", subject_id=membership.pk,
        summary=summary, data={"user": user.pk, "role": role, **data},
    )  # fmt: skip
    return membership


@transaction.atomic
def member_change_role(*, access: Access, membership: Membership, role: Role) -> Membership:
    _require_owner_to_touch_owners(access, role, membership.role)
    owners = _lock_owners(access.org)
    if membership.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
        raise Conflict("The last owner cannot be demoted.", code="last_owner")
    old_role = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    activity_record(
        access=access, verb="member.role_changed", subject_type="member", subject_id=membership.pk,
        summary=f"changed {membership.user.username}'s role from {old_role} to {role}",
        data={"user": membership.user_id, "old": old_role, "new": role},
    )  # fmt: skip
    return membership


@transaction.atomic
def member_remove(*, access: Access, membership: Membership) -> None:
    """Remove a member; their history stays, teams they lead are left without a lead."""
    lock_org(DERIVED_VALUES_LOCK, access.org.pk)  # their goals are left unowned
    leaving_by_themselves = access.user is not None and membership.user_id == access.user.pk
    if not leaving_by_themselves and not access.is_admin:
        raise PermissionDenied("Only an admin can remove other members.")
    if not leaving_by_themselves:
        _require_owner_to_touch_owners(access, membership.role)
    owners = _lock_owners(access.org)
    if membership.role == Role.OWNER and len(owners) == 1:
        raise Conflict("The last owner cannot be removed.", code="last_owner")
    Team.objects.filter(organization=access.org, lead_id=membership.user_id).update(lead=None)
    TeamMember.objects.filter(organization=access.org, user_id=membership.user_id).delete()
    Invitation.objects.filter(organization=access.org, invited_by_id=membership.user_id).update(invited_by=None)
    for handler in hooks.member_departed:
        handler(org=access.org, user_id=membership.user_id)
    activity_record(
        access=access, verb="member.removed", subject_type="member", subject_id=membership.pk,
        summary="left the organization" if leaving_by_themselves else f"removed {membership.user.username}",
        data={"user": membership.user_id},
    )  # fmt: skip
    membership.delete()


def member_welcome(*, membership: Membership) -> bool:
    """Email a new member; False when already welcomed. At least once: a worker that dies
    between sending and recording sends again on redelivery rather than never."""
    from django.core.mail import send_mail

    if membership.welcomed_at is not None or not membership.user.email:
        return False
    org_name = membership.organization.name
    send_mail(
        subject=f"You have joined {org_name}",
        message=f"Hello {membership.user.username},\n\nYou are now a {membership.role} of {org_name}.",
        from_email=None,
        recipient_list=[membership.user.email],
    )
    Membership.objects.filter(pk=membership.pk).update(welcomed_at=timezone.now())
    return True


# --- Invitations ------------------------------------------------------------------------------


@transaction.atomic
def invitation_create(*, access: Access, role: Role, email: str = "", username: str = "") -> Invitation:
    """Invite a person by email address or username (or both) to take `role`.

    The result and its side effects are the same whether or not an account exists for that
    name or address, and whether or not it is a member already: the email is owed either way
    and the worker decides whom it reaches.
    """
    if role == Role.OWNER and not access.has_role(Role.OWNER):
        raise PermissionDenied("Only an owner can invite an owner.")
    if not email and not username:
        raise ValidationFailed("Give an email address or a username.", code="email_or_user_required", attr="email")
    _refuse_a_second_pending_invitation(access.org, email=email, username=username)
    invitee = selectors.active_user_by_username(username=username) if username else None
    invitation = Invitation.objects.create(
        organization=access.org, email=email, username=username, invitee=invitee, role=role,
        invited_by=access.user, expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )  # fmt: skip
    outbox_enqueue(
        org=access.org,
        task_name="teams.send_invitation_email",
        kwargs={"org_id": str(access.org.pk), "invitation_id": str(invitation.pk)},
    )
    # The feed is read by every member: it names the role, never the invitee's address.
    activity_record(
        access=access, verb="invitation.created", subject_type="invitation", subject_id=invitation.pk,
        summary=f"invited someone as {role}", data={"role": role},
    )  # fmt: skip
    return invitation


def _refuse_a_second_pending_invitation(org: Organization, *, email: str, username: str) -> None:
    """Compares what admins typed only, never accounts, so the refusal reveals nothing new."""
    same = Q()
    if email:
        same |= Q(email__iexact=email)
    if username:
        same |= Q(username__iexact=username)
    pending = selectors.invitations_filter_status(selectors.invitation_list(org=org), InvitationStatus.PENDING)
    if pending.filter(same).exists():
        raise Conflict("A pending invitation for this address or username already exists.", code="already_invited")


@transaction.atomic
def invitation_revoke(*, access: Access, invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk, organization=access.org)
    if invitation.status == InvitationStatus.REVOKED:
        return invitation
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation was already {invitation.status}.", code="invitation_not_pending")
    invitation.status = InvitationStatus.REVOKED
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    activity_record(
        access=access, verb="invitation.revoked", subject_type="invitation", subject_id=invitation.pk,
        summary="revoked an invitation", data={"role": invitation.role},
    )  # fmt: skip
    return invitation


def _lock_open_invitation(user: User, invitation: Invitation) -> Invitation:
    """The invitation, locked, if it is addressed to `user` and can still be answered."""
    locked = selectors.invitations_for_user(user=user).select_for_update(of=("self",)).filter(pk=invitation.pk)
    found = locked.first()
    if found is None:
        raise NotFound("Not found.")
    status = found.effective_status()
    if status == InvitationStatus.EXPIRED:
        raise Conflict("This invitation has expired; ask for a new one.", code="invitation_expired")
    if status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation was already {status}.", code="invitation_not_pending")
    return found


@transaction.atomic
def invitation_accept(*, user: User, invitation: Invitation) -> Invitation:
    """The invitee joins the organization with the invited role (409 if already a member)."""
    invitation = _lock_open_invitation(user, invitation)
    org = invitation.organization
    if Membership.objects.filter(organization=org, user=user).exists():
        raise Conflict("You are already a member of this organization.", code="already_member")
    _membership_create(
        access=Access(org=org, user=user, role=Role(invitation.role)), user=user, role=invitation.role,
        summary=f"joined as {invitation.role}, by invitation", data={"invitation": str(invitation.pk)},
    )  # fmt: skip
    return _answer(invitation, user, InvitationStatus.ACCEPTED)


@transaction.atomic
def invitation_decline(*, user: User, invitation: Invitation) -> Invitation:
    invitation = _lock_open_invitation(user, invitation)
    # No actor: the feed of an organization shows none of a person outside it.
    activity_record(
        access=Access(org=invitation.organization), verb="invitation.declined", subject_type="invitation",
        subject_id=invitation.pk, summary="an invitation was declined", data={"role": invitation.role},
    )  # fmt: skip
    return _answer(invitation, user, InvitationStatus.DECLINED)


def _answer(invitation: Invitation, user: User, status: InvitationStatus) -> Invitation:
    invitation.status = status
    invitation.invitee = user
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "invitee", "responded_at"])
    return invitation


def invitation_email_recipient(invitation: Invitation) -> str:
    if invitation.email:
        return invitation.email
    return invitation.invitee.email if invitation.invitee is not None else ""


def invitation_email_send(*, invitation: Invitation) -> bool:
    """Email the invitee; False when already emailed, no longer open or nobody to write to.
    At least once, like the welcome email."""
    recipient = invitation_email_recipient(invitation)
    open_ = invitation.effective_status() == InvitationStatus.PENDING
    if invitation.emailed_at is not None or not open_ or not recipient:
        return False
    org = invitation.organization
    email_send(
        to=recipient,
        subject=f"You are invited to join {org.name}",
        body=(
            f"You are invited to join {org.name} ({org.slug}) as {invitation.role}.\n\n"
            f"Sign in with the account that holds this address and accept it with\n"
            f"POST /api/v1/invitations/{invitation.pk}/accept/ (or decline it with /decline/).\n"
            f"It expires at {invitation.expires_at.isoformat()}. If you do not know {org.name}, ignore this message."
        ),
    )
    Invitation.objects.filter(pk=invitation.pk).update(emailed_at=timezone.now())
    return True


def invitations_purge(*, now: datetime | None = None) -> int:
    """Delete invitations that expired more than `INVITATION_RETENTION_DAYS` ago, whatever their status."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.INVITATION_RETENTION_DAYS)
    deleted, _ = Invitation.objects.filter(expires_at__lt=cutoff).delete()
    return deleted


# --- Teams ------------------------------------------------------------------------------------


def _unique_team_slug(org: Organization, name: str, exclude: Any = None) -> str:
    base = slugify(name)[:50] or "team"
    similar = Team.objects.filter(organization=org, slug__istartswith=base).exclude(pk=exclude)
    taken = {slug.lower() for slug in similar.values_list("slug", flat=True)}
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


TEAM_FIELDS = ("name", "slug", "kind", "parent", "lead", "description")


@transaction.atomic
def team_create(*, access: Access, members: list[User] | None = None, **fields: Any) -> Team:
    if not fields.get("slug"):
        fields["slug"] = _unique_team_slug(access.org, fields["name"])
    elif matching_identifier(Team.objects.filter(organization=access.org), "slug", fields["slug"]).exists():
        raise ValidationFailed("A team with this slug already exists.", code="unique", attr="slug")
    team = Team.objects.create(organization=access.org, **{k: v for k, v in fields.items() if k in TEAM_FIELDS})
    _set_team_members(team, members or [])
    activity_record(
        access=access,
        verb="team.created",
        subject_type="team",
        subject_id=team.pk,
        summary=f"created {team.kind} {team.name}",
    )
    return team


@transaction.atomic
def team_update(*, access: Access, team: Team, members: list[User] | None = None, **fields: Any) -> Team:
    team = Team.objects.select_for_update(no_key=True).get(pk=team.pk, organization=access.org)
    if "parent" in fields:
        check_parent_acyclic(team, fields["parent"], message="A team cannot be its own ancestor.")
    if (
        "slug" in fields
        and matching_identifier(Team.objects.filter(organization=access.org), "slug", fields["slug"])
        .exclude(pk=team.pk)
        .exists()
    ):
        raise ValidationFailed("A team with this slug already exists.", code="unique", attr="slug")
    for name, value in fields.items():
        if name in TEAM_FIELDS:
            setattr(team, name, value)
    team.save()
    if members is not None:
        _set_team_members(team, members)
    activity_record(
        access=access, verb="team.updated", subject_type="team", subject_id=team.pk, summary=f"updated {team.name}",
        data={"fields": sorted({*fields, *(["members"] if members is not None else [])})},
    )  # fmt: skip
    return team


def _set_team_members(team: Team, users: list[User]) -> None:
    wanted = {user.pk for user in users}
    TeamMember.objects.filter(team=team).exclude(user_id__in=wanted).delete()
    existing = set(TeamMember.objects.filter(team=team).values_list("user_id", flat=True))
    TeamMember.objects.bulk_create(
        [TeamMember(organization_id=team.organization_id, team=team, user_id=pk) for pk in wanted - existing]
    )


@transaction.atomic
def team_delete(*, access: Access, team: Team) -> None:
    if Team.objects.filter(parent=team).exists():
        raise Conflict("Move or delete this team's child teams first.", code="team_has_children")
    team_id, name = team.pk, team.name
    delete_or_conflict(team, "Move this team's goals and strategies to another team first.", code="team_in_use")
    activity_record(
        access=access, verb="team.deleted", subject_type="team", subject_id=team_id, summary=f"deleted {name}"
    )


# --- API keys ---------------------------------------------------------------------------------


@transaction.atomic
def api_key_create(
    *, org: Organization, created_by: User | None, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Create a key; the secret is returned once and only its digest is kept."""
    secret = credentials.new_secret(credentials.API_KEY_PREFIX)
    key = ApiKey.objects.create(
        organization=org,
        name=name,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        prefix=credentials.display_prefix(secret),
        key_hash=credentials.digest(secret),
        created_by=created_by,
    )
    activity_record(
        access=Access(org=org, user=created_by), verb="api_key.created", subject_type="api_key", subject_id=key.pk,
        summary=f"created API key {name} ({', '.join(key.scopes)})",
    )  # fmt: skip
    return key, secret


@transaction.atomic
def api_key_revoke(*, access: Access, api_key: ApiKey) -> None:
    revoked = ApiKey.objects.filter(pk=api_key.pk, organization=access.org, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        activity_record(
            access=access, verb="api_key.revoked", subject_type="api_key", subject_id=api_key.pk,
            summary=f"revoked API key {api_key.name}",
        )  # fmt: skip
