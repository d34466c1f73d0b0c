"""The web app's pages a person acts in: their digest (more or less like this, share with a
note) and the source list's actions (add, fetch at the next run, disable/enable, remove).

Every action is a plain form POST carrying the session's CSRF token, answered
with a redirect back to the page (303, so a reload does not repeat it): it works
without script. A message about what was done travels in the query string and is
only ever shown as escaped text.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from aggregator.app import section_order, who_sees_it
from aggregator.errors import ConfigError, LearnplaceError
from aggregator.models import SourceStatus

if TYPE_CHECKING:
    from aggregator.web.app import _Web

NOTE_MAX = 1_000
"""Characters of a share note: a sentence or two, never a page."""
MESSAGE_MAX = 300
JUDGEMENTS = {"more": 1, "less": -1, "clear": 0}
JUDGED = {1: "more like this", -1: "less like this", 0: "no judgement (taken back)"}


def status_word(status: SourceStatus) -> str:
    """A source's health in words a person reads, never a bare status code."""
    health = status.health
    if health == "failing":
        times = "once" if status.failures == 1 else f"{status.failures} times in a row"
        return f"Failing ({times}): {status.last_error}"
    if health == "moved":
        return f"OK, moved permanently from {status.moved_from}"
    return HEALTH_WORDS[health]


HEALTH_WORDS = {
    "unlisted": "Collected earlier (by the demo, or since removed); not in feeds.toml",
    "disabled": "Disabled: listed in feeds.toml but not fetched (its items stay searchable)",
    "gone": "Gone: the server says it was removed (HTTP 410); retired",
    "new": "Not fetched yet: the next run fetches it",
    "ok": "OK",
}


def when_at(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _back(path: str, **query: str) -> RedirectResponse:
    pairs = {key: value[:MESSAGE_MAX] for key, value in query.items() if value}
    return RedirectResponse(path + ("?" + urlencode(pairs) if pairs else ""), status_code=303)


class Actions:
    """The digest and source pages; ``web`` renders, runs work off the loop and checks forms."""

    def __init__(self, web: _Web) -> None:
        self.web = web

    async def person(self, request: Request) -> Response:
        return await self.web._work(self._person, request)

    def _person(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            found = self.web.app.reading(name)
        except ConfigError:
            return self.web.error(request, 404, f"There is no profile named {name!r}.")
        digest = found.digest
        sections = digest.sections(section_order(found.profile)) if digest else []
        item = request.query_params.get("item", "")
        return self.web.page(
            request,
            "web/person.html",
            profile=found.profile,
            reading=found,
            sections=sections,
            message=request.query_params.get("done", ""),
            errors=[error] if (error := request.query_params.get("error", "")) else [],
            shared=int(item) if item.isdigit() and len(item) < 19 else None,
            learned_item=_item_number(request.query_params.get("learned", "")),
            note_max=NOTE_MAX,
        )

    async def _form(self, request: Request) -> FormData | Response:
        return await self.web._posted(request)

    async def feedback(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        return await self.web._work(self._feedback, request, form)

    def _feedback(self, request: Request, form: FormData) -> Response:
        name = request.path_params["name"]
        page = f"/people/{name}"
        judgement = JUDGEMENTS.get(str(form.get("judgement", "")))
        if judgement is None:
            return _back(page, error="judgement must be more, less or clear")
        ref = str(form.get("item", ""))
        try:
            item = self.web.app.record_feedback(name, ref, judgement, self.web.now())
        except ConfigError:
            return self.web.error(request, 404, f"There is no profile named {name!r}.")
        except LearnplaceError as exc:
            return _back(page, error=str(exc))
        done = f"“{item.title}”: {JUDGED[judgement]}. Your next digests follow it."
        return RedirectResponse(
            f"{page}?{urlencode({'done': done[:MESSAGE_MAX]})}#item-{item.id}", 303
        )

    async def share(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        return await self.web._work(self._share, request, form)

    def _share(self, request: Request, form: FormData) -> Response:
        name = request.path_params["name"]
        page = f"/people/{name}"
        note = str(form.get("note", "")).strip()
        if len(note) > NOTE_MAX:
            return _back(page, error=f"a note is at most {NOTE_MAX:,} characters")
        try:
            shared = self.web.app.share(name, str(form.get("item", "")), note, now=self.web.now())
        except LearnplaceError as exc:
            return _back(page, error=str(exc))
        if shared.replaced_note is None:
            done = f"Shared: {who_sees_it(self.web.app.teams_of(name))}."
        elif shared.replaced_note == note:
            done = "Already shared with this note: nothing changed."
        else:
            done = f"Updated your note (it was: “{shared.replaced_note}”)."
        return _back(page, done=done, item=str(shared.item_id))

    async def sources_action(self, request: Request) -> Response:
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        return await self.web._work(self._sources_action, request.path_params["action"], form)

    def _sources_action(self, action: str, form: FormData) -> Response:
        app = self.web.app
        url = str(form.get("url", "")).strip()
        try:
            if action == "add":
                added = app.add_source(url, name=str(form.get("name", "")) or None)
                done = f"Added {added.source.name} ({added.source.url}): {added.reason}."
            elif action == "refresh":
                app.refresh_source(url)
                done = f"{url} is fetched at the next run, whatever its backoff said."
            elif action in ("disable", "enable"):
                changed = app.set_source_disabled(url, action == "disable")
                then = "runs skip it" if changed.disabled else "the next run fetches it"
                done = f"{action.capitalize()}d {changed.name}: {then}."
            elif action == "remove":
                removed = app.remove_source(url)
                done = f"Removed {removed.name} from feeds.toml (its items stay searchable)."
            else:
                return _back("/sources", error=f"no action {action!r}")
        except LearnplaceError as exc:
            return _back("/sources", error=str(exc))
        return _back("/sources", done=done)


def _item_number(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def page_context(request: Request) -> dict[str, Any]:
    """The sources page's message and error from the redirect that led to it."""
    error = request.query_params.get("error", "")
    return {"message": request.query_params.get("done", ""), "errors": [error] if error else []}
