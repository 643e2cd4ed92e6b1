"""``/flags``: list flags, check one for an actor, change its gates (admin), read its audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from loopsafe.service.auth import AdminOnly
from loopsafe.service.deliveries import rfc3339
from loopsafe.service.problems import problems
from loopsafe.service.state import Service, service
from loopsafe.stores.flags import Flag

router = APIRouter(prefix="/flags", tags=["flags"])

ServiceDep = Annotated[Service, Depends(service)]
Name = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Strings = list[Annotated[str, Field(min_length=1, max_length=200)]]


class Gates(BaseModel):
    """A flag's gates; any subset may be given, the others keep their value."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    actors: Strings | None = Field(default=None, max_length=10_000)
    groups: Strings | None = Field(default=None, max_length=1_000)
    percentage_of_actors: float | None = Field(default=None, ge=0, le=100)
    percentage_of_time: float | None = Field(default=None, ge=0, le=100)


def flag_json(flag: Flag | None, name: str) -> dict[str, Any]:
    flag = flag or Flag(name)
    return {
        "name": flag.name,
        "enabled": flag.enabled,
        "actors": sorted(flag.actors),
        "groups": sorted(flag.groups),
        "percentage_of_actors": flag.percentage_of_actors,
        "percentage_of_time": flag.percentage_of_time,
    }


@router.get("", summary="Every flag and its gates")
async def list_flags(svc: ServiceDep) -> dict[str, Any]:
    flags = svc.flags.snapshot()
    return {"items": [flag_json(flags[name], name) for name in sorted(flags)]}


@router.get("/{name}", summary="Whether a flag is on (for an actor and its groups)")
async def check_flag(
    name: Name,
    svc: ServiceDep,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    group: Annotated[list[str] | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    # A plain synchronous check against the in-process snapshot: no await, no hop.
    enabled = svc.flags.is_enabled(name, actor=actor, groups=group or ())
    return {"name": name, "enabled": enabled, "actor": actor, "groups": group or []}


@router.put(
    "/{name}",
    dependencies=[AdminOnly],
    summary="Change a flag's gates",
    responses=problems(400, 401, 403),
)
async def set_flag(name: Name, gates: Gates, svc: ServiceDep) -> dict[str, Any]:
    changes = gates.model_dump(exclude_none=True)
    flag = await svc.flags.set(name, by="http-admin", **changes)
    return flag_json(flag, name)


@router.get("/{name}/audit", summary="Every change of a flag, newest first")
async def flag_audit(
    name: Name, svc: ServiceDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    entries = await svc.flags.audit(name, limit=limit)
    return {
        "items": [
            {
                "at": rfc3339(datetime.fromtimestamp(e.at, UTC)),
                "by": e.by,
                "before": None if e.before is None else flag_json(e.before, name),
                "after": None if e.after is None else flag_json(e.after, name),
            }
            for e in reversed(entries)  # the store gives the last changes oldest first
        ]
    }
