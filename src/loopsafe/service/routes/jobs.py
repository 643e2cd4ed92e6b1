"""``/jobs``: look at jobs, and retry a dead or failed one (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from loopsafe.service.auth import AdminOnly
from loopsafe.service.deliveries import rfc3339
from loopsafe.service.problems import Problem, problems
from loopsafe.service.state import Service, service
from loopsafe.stores.queue import Job, JobState

router = APIRouter(prefix="/jobs", tags=["jobs"])

ServiceDep = Annotated[Service, Depends(service)]
# SQLite integers are 64-bit: a larger id is no job, and must not reach the driver.
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "task": job.task,
        "queue": job.queue,
        "state": job.state.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": rfc3339(job.run_at),
        "created_at": rfc3339(job.created_at),
        "started_at": None if job.started_at is None else rfc3339(job.started_at),
        "finished_at": None if job.finished_at is None else rfc3339(job.finished_at),
        "result": job.result,
        "error": job.error,
    }


@router.get("/{job_id}", summary="One job", responses=problems(404))
async def get_job(job_id: JobId, svc: ServiceDep) -> dict[str, Any]:
    job = await svc.jobs.queue.get(job_id)
    if job is None:
        raise Problem(404, f"no job {job_id}")
    return job_json(job)


@router.get("", summary="Jobs, newest first", responses=problems(400))
async def list_jobs(
    svc: ServiceDep,
    state: JobState | None = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    try:
        page = await svc.jobs.queue.jobs(state=state, queue=queue, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return {"items": [job_json(j) for j in page.items], "next": page.next}


@router.post(
    "/{job_id}/retry",
    dependencies=[AdminOnly],
    summary="Run a job again",
    responses=problems(401, 403, 404, 409),
)
async def retry_job(job_id: JobId, svc: ServiceDep) -> dict[str, Any]:
    queue = svc.jobs.queue
    if await queue.get(job_id) is None:
        raise Problem(404, f"no job {job_id}")
    if not await queue.retry(job_id):
        raise Problem(409, "only a failed, dead or cancelled job can be retried")
    job = await queue.get(job_id)
    assert job is not None
    return job_json(job)
