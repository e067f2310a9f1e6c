"""`Idempotency-Key` for writes that integrations retry.

A retry with the same key and body replays the first successful answer; the same key with
another body is refused (422); a retry while the first is still running is refused (409);
a refused request (4xx) is not stored, so a corrected retry can succeed. Keys are kept for
`IDEMPOTENCY_TTL_HOURS`; a claim abandoned by a crashed request expires after
`IDEMPOTENCY_STALE_SECONDS`.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alignment_service.errors import ApplicationError, Conflict
from alignment_service.idempotency.models import IdempotencyRecord

if TYPE_CHECKING:
    from teams.models import Organization


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    default_code = "idempotency_key_reused"


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    replayed: bool = False


def request_fingerprint(body: object) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def run_idempotently(
    *, org: "Organization", credential: str, key: str, body: object, operation: Callable[[], Outcome]
) -> Outcome:
    """Run `operation` once per (org, credential, key); replay its stored answer to retries."""
    fingerprint = request_fingerprint(body)
    existing = _claim(org=org, credential=credential, key=key, fingerprint=fingerprint)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            outcome = operation()
            IdempotencyRecord.objects.filter(organization=org, credential=credential, key=key).update(
                response_status=outcome.status, response_body=outcome.body
            )
    except BaseException:
        IdempotencyRecord.objects.filter(organization=org, credential=credential, key=key).delete()
        raise
    return outcome


def _claim(*, org: "Organization", credential: str, key: str, fingerprint: str) -> Outcome | None:
    """Insert a running claim (committed at once), or return what a previous attempt decided."""
    fresh_after = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    stale_claim_before = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS)
    IdempotencyRecord.objects.filter(organization=org, credential=credential, key=key).filter(
        created_at__lt=fresh_after
    ).delete()
    IdempotencyRecord.objects.filter(
        organization=org,
        credential=credential,
        key=key,
        response_status__isnull=True,
        created_at__lt=stale_claim_before,
    ).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(organization=org, credential=credential, key=key, request_hash=fingerprint)
        return None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(organization=org, credential=credential, key=key).first()
    if record is None:
        raise Conflict("A request with this Idempotency-Key just finished; retry.", code="idempotency_retry")
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body.")
    if record.response_status is None:
        raise Conflict("A request with this Idempotency-Key is still running.", code="idempotency_in_progress")
    return Outcome(status=record.response_status, body=record.response_body, replayed=True)


def idempotency_purge(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
