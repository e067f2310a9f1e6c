"""Types the services of every app share."""

from collections.abc import Mapping
from uuid import UUID

#: A subject's primary key as the activity log and the inbox store it: UUIDs and integer ids.
SubjectId = UUID | int | str
#: A JSON object stored as it is given: activity data, task arguments, event payloads.
JSONObject = Mapping[str, object]
