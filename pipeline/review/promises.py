"""Read side of the review app's promise pages: the "Promises" list with its filters and one
promise's page (timeline, status, drafts with who edited them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline.stages.promise_page import DRAFT_KINDS, STATUSES, PromisePage
from pipeline.store import promises as promise_store


@dataclass(frozen=True)
class PromiseFilters:
    status: str = ""
    city: str = ""
    politician: str = ""

    @classmethod
    def from_params(cls, params: Any) -> PromiseFilters:
        status = str(params.get("status") or "")
        return cls(status if status in STATUSES else "", str(params.get("city") or "")[:100],
                   str(params.get("politician") or "")[:100])

    def keep(self, page: PromisePage) -> bool:
        p = page.promise
        return ((not self.status or page.status == self.status)
                and (not self.city or self.city.casefold() in (p.city or "").casefold())
                and (not self.politician or self.politician.casefold() in p.politician.casefold()))


@dataclass(frozen=True)
class PromiseList:
    pages: list[PromisePage]
    counts: dict[str, int]  # status -> promises, over all promises
    cities: list[str]
    politicians: list[str]
    total: int


def promise_list(session: Session, filters: PromiseFilters) -> PromiseList:
    pages = promise_store.promise_pages(session)
    counts = {s: sum(1 for p in pages if p.status == s) for s in STATUSES}
    return PromiseList(
        pages=[p for p in pages if filters.keep(p)],
        counts=counts,
        cities=sorted({p.promise.city for p in pages if p.promise.city}),
        politicians=sorted({p.promise.politician for p in pages if p.promise.politician}),
        total=len(pages),
    )


@dataclass(frozen=True)
class DraftView:
    kind: str
    text: str
    machine: str
    review_id: int | None  # the edit in force, None when the machine's text shows
    by: str | None
    machine_changed: bool  # the machine's draft changed since the reviewer's edit


def promise_view(session: Session, promise_id: str) -> tuple[PromisePage, dict[str, DraftView]] | None:
    pages = promise_store.promise_pages(session, [promise_id])
    if not pages:
        return None
    page = pages[0]
    edits = promise_store.draft_edits(session)
    machine_then = promise_store.draft_machine_values(session)
    drafts = {}
    for kind in DRAFT_KINDS:
        machine = page.machine_sources_draft if kind == "sources_draft" else page.machine_result_draft
        edit = edits.get((promise_id, kind))
        then = machine_then.get((promise_id, kind))
        drafts[kind] = DraftView(kind, edit[1] if edit else machine, machine, edit[0] if edit else None,
                                 edit[2] if edit else None, bool(edit) and then is not None and then != machine)
    return page, drafts


def draft_json(view: DraftView) -> dict[str, Any]:
    return {"kind": view.kind, "text": view.text, "machine": view.machine, "review_id": view.review_id,
            "by": view.by, "machine_changed": view.machine_changed}


def add_promise_routes(app: Any, db: Any, render: Any, page_user: Any, api_user: Any, check_csrf: Any) -> None:
    """The promise list, the promise page and the draft API (registered by :func:`create_app`)."""
    from pipeline.review.app import _json_body

    @app.get("/promises", response_class=HTMLResponse)
    def promises_page(request: Request) -> Response:
        sess, user = page_user(request)
        filters = PromiseFilters.from_params(request.query_params)
        with db.session() as s:
            plist = promise_list(s, filters)
        return render(request, "promises.html", session=sess, user=user, plist=plist, filters=filters,
                      statuses=STATUSES)

    @app.get("/promises/{promise_id}", response_class=HTMLResponse)
    def promise_page(request: Request, promise_id: str) -> Response:
        sess, user = page_user(request)
        with db.session() as s:
            found = promise_view(s, promise_id)
        if found is None:
            raise HTTPException(404, "no such promise")
        page, drafts = found
        return render(request, "promise.html", session=sess, user=user, page=page, drafts=drafts)

    def _seen(body: dict[str, Any]) -> int | None:
        seen = body.get("seen")
        if seen is None:
            return None
        if isinstance(seen, bool) or not isinstance(seen, int):
            raise HTTPException(400, "seen: the id of the edit you saw, or null")
        return seen

    def _draft_answer(promise_id: str, kind: str) -> Response:
        with db.session() as s:
            found = promise_view(s, promise_id)
        assert found is not None
        return JSONResponse(draft_json(found[1][kind]))

    @app.post("/api/promises/{promise_id}/drafts")
    async def save_draft(request: Request, promise_id: str) -> Response:
        sess, user = await run_in_threadpool(api_user, request)
        await check_csrf(request, sess)
        body = await _json_body(request)
        return await run_in_threadpool(save_draft_now, promise_id, body, user)

    def save_draft_now(promise_id: str, body: dict[str, Any], user: Any) -> Response:
        kind, text = body.get("kind"), body.get("text")
        if kind not in DRAFT_KINDS or not isinstance(text, str):
            raise HTTPException(400, "kind: sources_draft or result_draft; text: a string")
        if len(text) > promise_store.MAX_DRAFT:
            raise HTTPException(400, f"the draft is over {promise_store.MAX_DRAFT} characters")
        note = body.get("note")
        try:
            with db.session() as s:
                promise_store.save_draft(s, promise_id, kind, text, user.name, _seen(body),
                                         note if isinstance(note, str) else None)
        except LookupError:
            raise HTTPException(404, "no such promise") from None
        except promise_store.DraftConflict as exc:
            return JSONResponse({"error": exc.message(), "conflict": True, "review_id": exc.current_id},
                                status_code=409)
        return _draft_answer(promise_id, kind)

    @app.post("/api/promises/{promise_id}/drafts/undo")
    async def undo_draft(request: Request, promise_id: str) -> Response:
        sess, user = await run_in_threadpool(api_user, request)
        await check_csrf(request, sess)
        body = await _json_body(request)
        return await run_in_threadpool(undo_draft_now, promise_id, body, user)

    def undo_draft_now(promise_id: str, body: dict[str, Any], user: Any) -> Response:
        kind = body.get("kind")
        if kind not in DRAFT_KINDS:
            raise HTTPException(400, "kind: sources_draft or result_draft")
        try:
            with db.session() as s:
                promise_store.undo_draft(s, promise_id, kind, user.name, _seen(body))
        except PermissionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except promise_store.DraftConflict as exc:
            return JSONResponse({"error": exc.message(), "conflict": True, "review_id": exc.current_id},
                                status_code=409)
        return _draft_answer(promise_id, kind)
