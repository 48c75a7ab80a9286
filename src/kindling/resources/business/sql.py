"""The business row (``id = 'default'``)."""

from __future__ import annotations

from collections.abc import Sequence

from kindling.platform.engine import Session
from kindling.resources.business.model import Business

_ID = "default"
_FIELDS = (
    "name",
    "email",
    "phone",
    "industry_key",
    "timezone_key",
    "privacy_url",
    "terms_url",
    "is_click_wrap",
    "is_show_kinde_branding",
    "kinde_perk_code",
)
_COLUMNS = ", ".join(("code", "created_on", *_FIELDS))


class SqlBusinessRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self) -> Business | None:
        row = self._s.one(f"SELECT {_COLUMNS} FROM business WHERE id = ?", (_ID,))
        if row is None:
            return None
        return Business(
            code=row["code"],
            name=row["name"],
            created_on=row["created_on"],
            email=row["email"],
            phone=row["phone"],
            industry_key=row["industry_key"],
            timezone_key=row["timezone_key"],
            privacy_url=row["privacy_url"],
            terms_url=row["terms_url"],
            is_click_wrap=bool(row["is_click_wrap"]),
            is_show_kinde_branding=bool(row["is_show_kinde_branding"]),
            kinde_perk_code=row["kinde_perk_code"],
        )

    def add_if_absent(self, business: Business) -> bool:
        values = (business.code, business.created_on, *(getattr(business, f) for f in _FIELDS))
        inserted = self._s.execute(
            f"INSERT INTO business (id, {_COLUMNS}) "
            f"VALUES (?, {', '.join('?' for _ in values)}) ON CONFLICT (id) DO NOTHING",
            (_ID, *values),
        )
        return inserted > 0

    def update(self, business: Business, changed: Sequence[str]) -> bool:
        unknown = [f for f in changed if f not in _FIELDS]
        if unknown or not changed:
            raise ValueError(f"cannot update the business fields {list(changed)}")
        assignments = ", ".join(f"{f} = ?" for f in changed)
        written = self._s.execute(
            f"UPDATE business SET {assignments} WHERE id = ?",
            (*(getattr(business, f) for f in changed), _ID),
        )
        return written > 0
