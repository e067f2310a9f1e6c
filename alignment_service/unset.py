"""`UNSET`: the default of an update service's keyword for "leave this field as it is", so
that `None` can still mean "clear it"."""

import enum
from typing import Any, Final, Literal


class Unset(enum.Enum):
    UNSET = "unset"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
#: The type of an update keyword that may be left out: `name: str | NotGiven = UNSET`.
NotGiven = Literal[Unset.UNSET]


def given(**values: Any) -> dict[str, Any]:
    """The keywords that were passed (not `UNSET`), in order."""
    return {name: value for name, value in values.items() if value is not UNSET}
