"""API keys: created with scopes, shown once, revoked."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alignment_service.access import Access
from alignment_service.activity.services import activity_record
from teams import credentials
from teams.models import (
    ApiKey,
    Organization,
    User,
)


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
