"""Directory users: resolve a UPN, email address or id to an Entra user."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from automation.graph.client import GraphClient
from automation.graph.sharepoint import odata_quote

__all__ = ["User", "Users"]

_SELECT = "id,displayName,mail,userPrincipalName"


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """The few user properties the service needs."""

    id: str
    display_name: str
    mail: str | None
    upn: str


def _user(data: dict[str, Any]) -> User:
    return User(
        id=str(data["id"]),
        display_name=str(data.get("displayName") or ""),
        mail=data.get("mail") or None,
        upn=str(data.get("userPrincipalName") or ""),
    )


class Users:
    """User lookups, cached for the life of the instance (found users only)."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client
        self._cache: dict[str, User | None] = {}
        self._lock = threading.Lock()

    def get(self, upn_or_id: str) -> User | None:
        """The user with this id or UPN; an address that is not a UPN is matched on ``mail``.

        Returns ``None`` when no such user exists.
        """
        wanted = upn_or_id.strip()
        if not wanted:
            return None
        cache_key = wanted.casefold()
        # One lookup per user (unknown ones too), even with parallel workers.
        with self._lock:
            if cache_key in self._cache:
                return self._cache[cache_key]
            user = self._lookup(wanted)
            self._cache[cache_key] = user
            return user

    def _lookup(self, wanted: str) -> User | None:
        # UPNs starting with "$" must be addressed as /users('$x@y'); "#" must be %23.
        segment = quote(wanted, safe="@")
        path = f"/users('{segment}')" if wanted.startswith("$") else f"/users/{segment}"
        response = self._client.request("GET", path, params={"$select": _SELECT}, ok={404})
        user: User | None = None
        if response.status != 404:
            user = _user(response.json())
        elif "@" in wanted:
            literal = odata_quote(wanted)
            found = self._client.get_json(
                "/users",
                params={
                    "$filter": f"mail eq {literal} or userPrincipalName eq {literal}",
                    "$select": _SELECT,
                },
            )
            values = found.get("value") if isinstance(found, dict) else None
            if isinstance(values, list) and values:
                user = _user(values[0])
        return user
