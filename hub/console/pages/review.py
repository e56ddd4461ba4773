"""The console's review pages: the queue of uncertain pairs, and one pair side by side with the
model's reasons, where a steward decides it.

Both read and write through GraphQL (`reviewItems`, `reviewItem`, `claimReviewItem`,
`releaseReviewItem`, `decideReviewItem`), so masking, scopes, the access log and the audit trail are
the API's. A decision takes effect at once (the API merges or splits the entities); the pair page then
moves on to the next open item of the same filters, which the page carries in its links and forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import BaseRoute

from hub.api.permissions import WRITE_ROLES
from hub.console.app import Page, page_route
from hub.store.models import Source

__all__ = ["ROUTES"]

KINDS = ("PERSON", "ADDRESS", "LEGAL_ENTITY")
BANDS = ("UNLIKELY", "DOUBTFUL", "EVEN", "PROBABLE", "LIKELY")
DECISIONS = ("MATCH", "NOT_MATCH", "UNSURE")
# The console's states: "pending" (open or claimed, the default) is the work still to do.
STATES: dict[str, list[str] | None] = {
    "pending": ["OPEN", "CLAIMED"],
    "open": ["OPEN"],
    "claimed": ["CLAIMED"],
    "decided": ["DECIDED"],
    "all": None,
}
FILTERS = ("kind", "band", "source", "town", "grid", "assignee", "state")
PAGE_SIZE = 25
ENTITY_PAGES = {"PERSON": "person", "ADDRESS": "address", "LEGAL_ENTITY": "legal-entity"}

_ITEM = """
  id kind state assignee score priority decision note cursor held priorWeight matchWeight
  explanation { comparison level weight }
  records { source key entityId features }
"""
QUEUE = (
    """query($kind: EntityKind, $band: ScoreBand, $source: String, $town: String, $grid: String,
    $assignee: String, $states: [ReviewState!], $first: Int, $after: String, $last: Int,
    $before: String) {
  reviewItems(kind: $kind, band: $band, source: $source, town: $town, grid: $grid, assignee: $assignee,
      states: $states, first: $first, after: $after, last: $last, before: $before) {
    totalCount bands { band low high count }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
    edges { node {"""
    + _ITEM
    + "} } } }"
)
# The next or previous item only: no counts, no records.
NEIGHBOUR = QUEUE.split("{\n    totalCount")[0] + "{ edges { node { id } } } }"
ONE = "query($id: ID!) { reviewItem(id: $id) {" + _ITEM + "} }"
CLAIM = "mutation($id: ID!) { claimReviewItem(id: $id) { id } }"
RELEASE = "mutation($id: ID!) { releaseReviewItem(id: $id) { id } }"
DECIDE = """mutation($id: ID!, $decision: ReviewDecision!, $note: String) {
  decideReviewItem(id: $id, decision: $decision, note: $note) { id } }"""

# Derived matching keys (pinyin keys, sound keys, address keys) are not what a steward compares.
_HIDDEN_SUFFIXES = ("_key", "_sound_key")
_ORDER = (
    "name",
    "name_pinyin",
    "surname",
    "sex",
    "birth_date",
    "id_number",
    "id_number_valid",
    "phone",
    "address",
    "registered_address",
    "business_address",
    "canonical",
    "uscc",
    "legal_form",
    "legal_representative_name",
    "legal_representative_id_number",
    "established_on",
)


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the waterfall, in the drawing's units: where it stands and what it says."""

    x: float
    top: float
    height: float
    tone: str  # "start", "up", "down", "flat" or "end"
    name: str
    level: str
    value: str


@dataclass(frozen=True, slots=True)
class Waterfall:
    width: int
    height: int
    zero: float
    bars: list[Bar]
    bar_width: int


_COLUMN, _PLOT_TOP, _PLOT_HEIGHT, _LEFT = 104, 28, 220, 16


def waterfall(
    prior: float, steps: list[tuple[str, str, float]], final: float, labels: tuple[str, str]
) -> Waterfall:
    """The model's reasons as bars: the prior (from zero), each comparison going up or down from where
    the last one ended by its weight in bits, and the final weight (from zero)."""
    running = [prior]
    for _, _, weight in steps:
        running.append(running[-1] + weight)
    values = [0.0, *running, final]
    low, high = min(values), max(values)
    span = (high - low) or 1.0

    def y(value: float) -> float:
        return _PLOT_TOP + (high - value) / span * _PLOT_HEIGHT

    def bar(n: int, start: float, end: float, tone: str, name: str, level: str, value: float) -> Bar:
        top, bottom = y(max(start, end)), y(min(start, end))
        return Bar(_LEFT + n * _COLUMN, top, max(bottom - top, 1.5), tone, name, level, f"{value:+.1f}")

    bars = [bar(0, 0.0, prior, "start", labels[0], "", prior)]
    for n, (name, level, weight) in enumerate(steps, start=1):
        tone = "up" if weight > 0 else "down" if weight < 0 else "flat"
        bars.append(bar(n, running[n - 1], running[n], tone, name, level, weight))
    bars.append(bar(len(steps) + 1, 0.0, final, "end", labels[1], "", final))
    width = _LEFT * 2 + len(bars) * _COLUMN
    return Waterfall(width, _PLOT_TOP + _PLOT_HEIGHT + 56, y(0.0), bars, _COLUMN - 28)


def _filters(page: Page) -> dict[str, str]:
    """The queue's filters, from the query string (or a form's hidden fields), known values only."""
    given: Any = page.form if page.form is not None else page.request.query_params
    out: dict[str, str] = {}
    for name in FILTERS:
        value = str(given.get(name) or "").strip()[:100]
        if name == "kind" and value not in KINDS:
            value = ""
        if name == "band" and value not in BANDS:
            value = ""
        if name == "state" and value not in STATES:
            value = ""
        if value:
            out[name] = value
    return out


def _variables(page: Page, filters: dict[str, str]) -> dict[str, Any]:
    assignee = filters.get("assignee")
    if assignee == "me":
        assignee = f"steward:{page.client.name}"
    return {
        "kind": filters.get("kind"),
        "band": filters.get("band"),
        "source": filters.get("source"),
        "town": filters.get("town"),
        "grid": filters.get("grid"),
        "assignee": assignee,
        "states": STATES[filters.get("state", "pending")],
    }


def _short(kind: str, features: dict[str, Any]) -> str:
    """A record in a few words: a person's or company's name, an address's text."""
    if kind == "ADDRESS":
        return str(features.get("canonical") or features.get("text") or "")
    return str(features.get("name") or "")


def _row(item: dict[str, Any]) -> dict[str, Any]:
    records = item["records"]
    return {
        **item,
        "band": _band(item["score"]),
        "short": [(_short(item["kind"], r["features"]), r["source"]) for r in records],
    }


def _band(score: float | None) -> str | None:
    if score is None:
        return None
    for band, high in zip(BANDS, (0.3, 0.5, 0.7, 0.9, 2.0), strict=True):
        if score < high:
            return band
    return BANDS[-1]


def _sources(page: Page) -> list[str]:
    with page.db() as session:
        return sorted(name for name in session.scalars(select(Source.name)) if name != "hub")


async def _queue(page: Page) -> Response:
    filters = _filters(page)
    params = page.request.query_params
    after, before = params.get("after"), params.get("before")
    paging: dict[str, Any] = {"first": PAGE_SIZE, "after": after}
    if before:
        paging = {"last": PAGE_SIZE, "before": before}
    found = (await page.graph(QUEUE, **_variables(page, filters), **paging))["reviewItems"]
    items = [_row(edge["node"]) for edge in found["edges"]]
    info = found["pageInfo"]
    return page.render(
        "review/queue.html",
        items=items,
        total=found["totalCount"],
        bands=found["bands"],
        filters=filters,
        chosen={name: filters.get(name, "") for name in FILTERS},
        sources=_sources(page),
        kinds=KINDS,
        band_names=BANDS,
        states=list(STATES),
        previous=page.url("/queue", **filters, before=info["startCursor"])
        if info["hasPreviousPage"] and info["startCursor"]
        else None,
        next=page.url("/queue", **filters, after=info["endCursor"])
        if info["hasNextPage"] and info["endCursor"]
        else None,
        here=page.url("/queue", **filters, after=after, before=before),
    )


def _fields(page: Page, records: list[dict[str, Any]]) -> list[tuple[str, list[str], bool]]:
    """Every field either record has, in a steward's order: (name, each record's value, differs)."""
    shown = [_flatten(r["features"]) for r in records]
    for record in shown:  # the sexes as words: M and F are codes
        for name in ("sex", "id_sex"):
            if name in record:
                record[name] = _label(page, "review.sex.", record[name])
    names = {name for values in shown for name in values}
    ordered = [n for n in _ORDER if n in names] + sorted(names - set(_ORDER))
    rows = []
    for name in ordered:
        values = [record.get(name, "") for record in shown]
        rows.append((name, values, len(set(values)) > 1))
    return rows


def _flatten(features: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in features.items():
        if name.endswith(_HIDDEN_SUFFIXES) or value is None or value == "":
            continue
        if isinstance(value, dict):
            text = value.get("canonical")
            out[name] = str(text) if text else ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
            if value.get("grid_code"):
                out[f"{name}.grid_code"] = str(value["grid_code"])
        elif isinstance(value, bool):
            out[name] = "✓" if value else "✗"
        else:
            out[name] = str(value)
    return out


async def _neighbour(page: Page, filters: dict[str, str], cursor: str, *, forward: bool) -> str | None:
    """The id of the next (or previous) open item of the same filters from `cursor`, if any."""
    paging = {"first": 1, "after": cursor} if forward else {"last": 1, "before": cursor}
    found = (await page.graph(NEIGHBOUR, **_variables(page, filters), **paging))["reviewItems"]
    return str(found["edges"][0]["node"]["id"]) if found["edges"] else None


async def _pair(page: Page) -> Response:
    item_id = str(page.request.path_params["id"])
    filters = _filters(page)
    item = (await page.graph(ONE, id=item_id))["reviewItem"]
    records = item["records"]
    drawing: Waterfall | None = None
    if item["explanation"] and item["priorWeight"] is not None:
        drawing = waterfall(
            item["priorWeight"],
            [
                (
                    _label(page, "review.cmp.", s["comparison"]),
                    _label(page, "review.level.", s["level"]),
                    s["weight"],
                )
                for s in item["explanation"]
            ],
            item["matchWeight"],
            (page.t("review.waterfall.prior"), page.t("review.waterfall.final")),
        )
    previous = await _neighbour(page, filters, item["cursor"], forward=False)
    following = await _neighbour(page, filters, item["cursor"], forward=True)
    return page.render(
        "review/pair.html",
        item=item,
        band=_band(item["score"]),
        records=records,
        fields=_fields(page, records),
        entity_page=ENTITY_PAGES[item["kind"]],
        drawing=drawing,
        filters=filters,
        previous=page.url(f"/review/{previous}", **filters) if previous else None,
        next=page.url(f"/review/{following}", **filters) if following else None,
        back=page.url("/queue", **filters),
        mine=item["assignee"] == f"steward:{page.client.name}",
        field_label=lambda name: _label(page, "review.field.", name),
    )


def _label(page: Page, prefix: str, name: str) -> str:
    key = prefix + name
    return page.t(key) if key in page.console_strings else name


def _form(page: Page) -> FormData:
    assert page.form is not None  # a POST route: page_route read the form
    return page.form


async def _claim(page: Page) -> Response:
    item_id = str(page.request.path_params["id"])
    await page.graph(CLAIM, id=item_id)
    return page.redirect(f"/review/{item_id}", **_filters(page), notice="review_claimed")


async def _release(page: Page) -> Response:
    item_id = str(page.request.path_params["id"])
    await page.graph(RELEASE, id=item_id)
    return page.redirect(f"/review/{item_id}", **_filters(page), notice="review_released")


async def _decide(page: Page) -> Response:
    """Decide one item, then show the next open item of the same filters (or the queue when none)."""
    form = _form(page)
    item_id = str(page.request.path_params["id"])
    decision = str(form.get("decision") or "")
    if decision not in DECISIONS:
        return page.error(400, "BAD_INPUT", page.t("review.bad_decision"))
    note = str(form.get("note") or "").strip() or None
    filters = _filters(page)
    cursor = str(form.get("cursor") or "")
    await page.graph(DECIDE, id=item_id, decision=decision, note=note)
    following = await _neighbour(page, filters, cursor, forward=True) if cursor else None
    if following is not None and following != item_id:
        return page.redirect(f"/review/{following}", **filters, notice="review_decided")
    return page.redirect("/queue", **filters, notice="review_decided_last")


async def _bulk(page: Page) -> Response:
    """Decide every selected item the same way, with one note."""
    form = _form(page)
    decision = str(form.get("decision") or "")
    chosen = [str(v) for v in form.getlist("item") if str(v).isdigit()]
    filters = _filters(page)
    if decision not in DECISIONS:
        return page.error(400, "BAD_INPUT", page.t("review.bad_decision"))
    if not chosen:
        return page.redirect("/queue", **filters, notice="review_none_selected")
    note = str(form.get("note") or "").strip() or None
    for item_id in chosen:
        await page.graph(DECIDE, id=item_id, decision=decision, note=note)
    return page.redirect("/queue", **filters, notice="review_bulk_decided")


ROUTES: list[BaseRoute] = [
    page_route("/queue", _queue),
    page_route("/queue/decide", _bulk, methods=("POST",), roles=WRITE_ROLES),
    page_route("/review/{id:int}", _pair),
    page_route("/review/{id:int}/claim", _claim, methods=("POST",), roles=WRITE_ROLES),
    page_route("/review/{id:int}/release", _release, methods=("POST",), roles=WRITE_ROLES),
    page_route("/review/{id:int}/decide", _decide, methods=("POST",), roles=WRITE_ROLES),
]
