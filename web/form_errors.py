"""Form validation errors, in the order the fields appear, for the GOV.UK error summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    #: The id of the input the summary links to.
    field: str
    message: str


@dataclass
class FormErrors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, field_id: str, message: str) -> None:
        if field_id not in self.by_field:
            self.items.append(FieldError(field_id, message))

    @property
    def by_field(self) -> dict[str, str]:
        return {e.field: e.message for e in self.items}

    def __bool__(self) -> bool:
        return bool(self.items)
