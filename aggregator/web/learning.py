"""The web app's learning pages: "I learned this" (one click, then minutes and a reflection),
the person's log (edit, delete), saved searches with a live preview, and rules with what
each matches now.

Like :mod:`.actions`: plain form POSTs with the session's CSRF token, answered with a 303
back to the page, so every action works without script; the preview panel is also a
form button, and script only fetches the same panel in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from aggregator.errors import ConfigError, LearnplaceError
from aggregator.models import ITEM_TYPES, RULE_FIELDS, RULE_MATCHERS, SavedSearch

if TYPE_CHECKING:
    from aggregator.web.app import _Web

MESSAGE_MAX = 300


def _back(path: str, anchor: str = "", **query: str) -> RedirectResponse:
    pairs = {key: value[:MESSAGE_MAX] for key, value in query.items() if value}
    suffix = ("?" + urlencode(pairs) if pairs else "") + (f"#{anchor}" if anchor else "")
    return RedirectResponse(path + suffix, status_code=303)


def _minutes(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 5:
        raise ValueError(f"minutes are a whole number, not {raw!r}")
    return int(raw)


class LearningPages:
    """Routes under ``/people/<name>/``: learned, log, searches, rules."""

    def __init__(self, web: _Web) -> None:
        self.web = web

    def routes(self) -> list[Route]:
        return [
            Route("/people/{name}/learned", self.learned, methods=["POST"]),
            Route("/people/{name}/log", self.log),
            Route("/people/{name}/searches", self.searches, methods=["GET", "POST"]),
            Route("/people/{name}/rules", self.rules, methods=["GET", "POST"]),
        ]

    async def _posted(self, request: Request) -> FormData | Response:
        return await self.web._posted(request)

    def _missing(self, request: Request) -> Response:
        name = request.path_params["name"]
        return self.web.error(request, 404, f"There is no profile named {name!r}.")

    async def learned(self, request: Request) -> Response:
        form = await self._posted(request)
        if isinstance(form, Response):
            return form
        return await self.web._work(self._learned, request, form)

    def _learned(self, request: Request, form: FormData) -> Response:
        """One click records it; the same form again (from the log or the page) adds
        minutes, a reflection and whether to share it; ``delete`` takes it back."""
        name = request.path_params["name"]
        back = str(form.get("back", "")) == "log"
        page = f"/people/{name}/log" if back else f"/people/{name}"
        ref = str(form.get("item", ""))
        app = self.web.app
        try:
            if form.get("delete"):
                app.forget_learning(name, ref, now=self.web.now())
                return _back(page, done="Deleted from your learning log.")
            detailed = form.get("detail") is not None
            entry, replaced = app.learned(
                name,
                ref,
                now=self.web.now(),
                minutes=_minutes(str(form.get("minutes", ""))) if detailed else None,
                note=str(form.get("note", "")) if detailed else None,
                shared=(form.get("shared") is not None) if detailed else None,
            )
        except ConfigError:
            return self._missing(request)
        except (LearnplaceError, ValueError) as exc:
            return _back(page, error=str(exc))
        if replaced is None:
            done = f"Logged “{entry.item.title}”. Add minutes and what you took from it below."
        else:
            seen = "shared with your teams" if entry.record.shared else "private"
            done = f"Saved your record of “{entry.item.title}” ({seen})."
        return _back(page, f"item-{entry.item.id}", done=done, learned=str(entry.item.id))

    async def log(self, request: Request) -> Response:
        return await self.web._work(self._log, request)

    def _log(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            profile = self.web.app.profile(name)
            weeks = self.web.app.learning_log(name)
        except ConfigError:
            return self._missing(request)
        return self.web.page(
            request,
            "web/log.html",
            profile=profile,
            weeks=weeks,
            message=request.query_params.get("done", ""),
            errors=[e] if (e := request.query_params.get("error", "")) else [],
        )

    async def searches(self, request: Request) -> Response:
        form = None
        if request.method == "POST":
            form = await self._posted(request)
            if isinstance(form, Response):
                return form
        return await self.web._work(self._searches, request, form)

    def _searches(self, request: Request, form: FormData | None) -> Response:
        """The saved searches; a POST previews, saves or removes one (preview only with
        ``action=preview``: the panel shows what its section would hold now)."""
        name = request.path_params["name"]
        app = self.web.app
        errors: list[str] = []
        preview = None
        values = {"search_name": "", "query": "", "types": []}
        message = request.query_params.get("done", "")
        try:
            if form is not None:
                action = str(form.get("action", "preview"))
                if action == "remove":
                    removed = str(form.get("search_name", ""))
                    app.remove_search(name, removed)
                    return _back(f"/people/{name}/searches", done=f"Removed “{removed}”.")
                search = SavedSearch(
                    str(form.get("search_name", "")).strip(),
                    " ".join(str(form.get("query", "")).split()),
                    tuple(t for t in form.getlist("types") if t in ITEM_TYPES),
                )
                values = {"search_name": search.name, "query": search.query, "types": search.types}
                if not search.name or not search.query:
                    errors.append("a saved search needs a name and a query")
                elif action == "save":
                    app.save_search(name, search, now=self.web.now())
                    done = f"Saved “{search.name}”: its section is in your next digest."
                    return _back(f"/people/{name}/searches", done=done)
                else:
                    preview = app.preview_search(name, search, now=self.web.now())
            profile = app.profile(name)
        except ConfigError as exc:
            if not self.web.app.profile_names().count(name):
                return self._missing(request)
            errors.append(str(exc))
            profile = app.profile(name)
        except LearnplaceError as exc:
            errors.append(str(exc))
            profile = app.profile(name)
        panel = request.headers.get("x-preview") == "1" and preview is not None
        return self.web.page(
            request,
            "web/search_preview.html" if panel else "web/searches.html",
            400 if errors else 200,
            profile=profile,
            values=values,
            preview=preview,
            errors=errors,
            message=message,
            item_types=ITEM_TYPES,
        )

    async def rules(self, request: Request) -> Response:
        form = None
        if request.method == "POST":
            form = await self._posted(request)
            if isinstance(form, Response):
                return form
        return await self.web._work(self._rules, request, form)

    def _rules(self, request: Request, form: FormData | None) -> Response:
        """The rules with what each matches now; a POST adds, removes or applies them."""
        name = request.path_params["name"]
        app = self.web.app
        page = f"/people/{name}/rules"
        try:
            if form is not None:
                action = str(form.get("action", ""))
                if action == "add":
                    app.add_rule(
                        name,
                        str(form.get("rule_action", "")),
                        str(form.get("matcher", "")),
                        str(form.get("value", "")).strip(),
                        str(form.get("field", "")),
                    )
                    return _back(page, done="Rule added: it applies from the next digest.")
                if action == "remove":
                    app.remove_rule(name, int(str(form.get("number", "0")) or 0))
                    return _back(page, done="Rule removed.")
                if action == "apply":
                    count = app.apply_rules(name, now=self.web.now())
                    return _back(page, done=f"Applied to what is stored: {count} items hidden.")
                return _back(page, error=f"no action {action!r}")
            profile = app.profile(name)
            effects = app.rule_effects(name, now=self.web.now(), profile=profile)
        except ConfigError as exc:
            if name not in app.profile_names():
                return self._missing(request)
            return _back(page, error=exc.message)
        except (LearnplaceError, ValueError) as exc:
            return _back(page, error=str(exc))
        return self.web.page(
            request,
            "web/rules.html",
            profile=profile,
            effects=effects,
            matchers=RULE_MATCHERS,
            fields=RULE_FIELDS,
            message=request.query_params.get("done", ""),
            errors=[e] if (e := request.query_params.get("error", "")) else [],
        )
