"""The protocol of a method that trains the student alone on one loss (flow matching, ODE regression)."""

from __future__ import annotations

from onestep.types import Roles, Update


class StudentOnly:
    """roles: none of its own; one group, the student; each step one update on `student_loss`."""

    needs_pairs = False
    roles: dict[str, str] = {}
    causal_student = False

    def new_role(self, name: str, roles: Roles):
        raise KeyError(f"{type(self).__name__} builds no role of its own, not {name!r}")

    def groups(self, roles: Roles) -> dict[str, list]:
        return {"student": list(roles.student.parameters())}

    def step(self, batch, roles: Roles, rng, step: int) -> list[Update]:
        return [Update("student", lambda: self.student_loss(batch, roles, rng()))]

    def separation(self, batch, roles: Roles, d) -> dict[str, float]:
        return {}  # no discriminator
