"""Service layer: two levels above the sqlite3 helpers."""

import shop.repo as users


def get_profile(uid: int) -> dict[str, object]:
    user = users.load_user(uid)
    return {"user": user, "ok": user is not None}
