"""A FastAPI + SQLModel CRUD service on loopsafe: SQLModel's own tutorial app, async,
with one changed URL (``sqlite+aiosqlite`` -> ``sqlite+loopsafe``).

Run it: ``uvicorn docs.examples.sqlmodel_app:app`` (``HEROES_DB`` names the file,
``heroes.db`` by default).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

engine = create_async_engine(f"sqlite+loopsafe:///{os.environ.get('HEROES_DB', 'heroes.db')}")


class HeroBase(SQLModel):
    name: str = Field(index=True)
    age: int | None = Field(default=None, index=True)


class Hero(HeroBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class HeroUpdate(SQLModel):
    name: str | None = None
    age: int | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def session() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine) as s:
        yield s


Session = Annotated[AsyncSession, Depends(session)]


@app.post("/heroes/", status_code=201)
async def create_hero(hero: HeroBase, s: Session) -> Hero:
    row = Hero.model_validate(hero)
    s.add(row)
    await s.commit()
    await s.refresh(row)
    return row


@app.get("/heroes/")
async def list_heroes(s: Session, offset: int = 0, limit: int = 100) -> list[Hero]:
    return list((await s.exec(select(Hero).offset(offset).limit(limit))).all())


@app.get("/heroes/{hero_id}")
async def read_hero(hero_id: int, s: Session) -> Hero:
    hero = await s.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status_code=404, detail="Hero not found")
    return hero


@app.patch("/heroes/{hero_id}")
async def update_hero(hero_id: int, change: HeroUpdate, s: Session) -> Hero:
    hero = await s.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status_code=404, detail="Hero not found")
    hero.sqlmodel_update(change.model_dump(exclude_unset=True))
    s.add(hero)
    await s.commit()
    await s.refresh(hero)
    return hero


@app.delete("/heroes/{hero_id}", status_code=204)
async def delete_hero(hero_id: int, s: Session) -> None:
    hero = await s.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status_code=404, detail="Hero not found")
    await s.delete(hero)
    await s.commit()
