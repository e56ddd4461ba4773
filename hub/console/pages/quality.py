"""The console's match-quality page: per kind, how the last batch run scored its pairs, what each
comparison's levels weigh, and how the review queue spreads over score bands.

Nothing here reads judgements one by one: the score histogram is counted once, when the run scores
its pairs, and kept in the run's stats (`hub.resolve.engine.score_histogram`); m and u are the trained
parameters stored with the run's settings; the review queue is one grouped count over the review
items, kept in this process until the queue or the audit chain moves on (every claim, decision and
run writes an audit event), so repeated views cost two primary-key lookups.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.routing import BaseRoute

from hub.console.app import Page, page_route
from hub.domain import Kind, ReviewStatus
from hub.store.models import AuditEvent, Judgement, ResolutionRun, ReviewItem

__all__ = ["BANDS", "ROUTES"]

# The review queue's score bands, as the queue page takes them (`band=`), each [low, high).
BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-0.3", 0.0, 0.3),
    ("0.3-0.5", 0.3, 0.5),
    ("0.5-0.7", 0.5, 0.7),
    ("0.7-0.9", 0.7, 0.9),
    ("0.9-1", 0.9, 1.0),
)
_STATES = (ReviewStatus.OPEN, ReviewStatus.CLAIMED, ReviewStatus.DECIDED)
_KINDS = (Kind.PERSON, Kind.ADDRESS, Kind.LEGAL_ENTITY)
# Counts spanning more than this ratio are drawn on a log scale.
_LOG_FROM = 50


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    low: float
    high: float
    count: int


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # pixels along the axis
    label: str


@dataclass(frozen=True, slots=True)
class Threshold:
    name: str  # "link" or "review"
    value: float
    x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class Histogram:
    """The run's score histogram laid out as an SVG drawing (pixels in a fixed view box)."""

    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    thresholds: list[Threshold]
    log: bool
    total: int


@dataclass(frozen=True, slots=True)
class LevelBars:
    label: str
    m: float
    u: float
    weight: float
    tf: bool


@dataclass(frozen=True, slots=True)
class ComparisonChart:
    name: str
    title: str
    levels: list[LevelBars]
    estimated: bool  # EM estimated its m (else m is the starting guess)


@dataclass(frozen=True, slots=True)
class BandRow:
    band: str
    counts: dict[str, int]
    total: int


async def _quality(page: Page) -> Response:
    kinds = [kind for kind in _KINDS if kind in page.client.kinds]
    chosen = page.request.query_params.get("kind") or kinds[0].value
    kind = next((k for k in kinds if k.value == chosen), None)
    if kind is None:
        return page.error(404, "NOT_FOUND", page.t("quality.no_kind", kind=chosen))
    with page.db() as session:
        run, later = _last_batch_run(session, kind)
        bands = _review_bands(session, kind)
    context: dict[str, Any] = {"kinds": kinds, "kind": kind, "run": run, "later_runs": later, "bands": bands}
    if run is not None:
        match, parameters = run.settings.get("match", {}), run.settings.get("parameters")
        context.update(
            link_at=float(match.get("link_at", 0.95)),
            review_at=float(match.get("review_at", 0.5)),
            prior=parameters["prior"] if parameters else None,
            histogram=_histogram(run.stats.get("score_histogram"), match),
            charts=_charts(page, kind, match, parameters),
        )
        weights = [abs(level.weight) for chart in context["charts"] for level in chart.levels]
        context["weight_scale"] = max([1.0, *weights])
    return page.render("quality/quality.html", **context)


ROUTES: list[BaseRoute] = [page_route("/quality", _quality)]


def _last_batch_run(session: Session, kind: Kind) -> tuple[ResolutionRun | None, int]:
    """The kind's last finished batch run (it scored every candidate pair), and how many incremental
    runs came after it (each scored only its new records' pairs)."""
    later = 0
    offset = 0
    while True:
        runs = session.scalars(
            select(ResolutionRun)
            .where(ResolutionRun.kind == kind, ResolutionRun.finished_at.is_not(None))
            .order_by(ResolutionRun.id.desc())
            .offset(offset)
            .limit(50)
        ).all()
        for run in runs:
            if not run.stats.get("incremental"):
                return run, later
            later += 1
        if len(runs) < 50:
            return None, later
        offset += 50


def _histogram(stored: dict[str, Any] | None, match: dict[str, Any]) -> Histogram | None:
    """The stored histogram drawn: bars over match probability 0–1, counts on a log scale when they
    span a wide range, the two thresholds as labelled lines. None for a run that did not keep one."""
    if not stored or not stored.get("counts"):
        return None
    counts = [int(c) for c in stored["counts"]]
    bins = len(counts)
    width, height, left, top, right, bottom = 960, 300, 70, 34, 16, 44
    plot_width, plot_height = width - left - right, height - top - bottom
    nonzero = [c for c in counts if c > 0]
    peak = max(nonzero, default=1)
    log = bool(nonzero) and peak / min(nonzero) > _LOG_FROM
    if log:
        ceiling = 10 ** math.ceil(math.log10(peak)) if peak > 1 else 10
        floor = math.log10(0.5)  # a single pair still shows as a sliver

        def scale(count: float) -> float:
            return (math.log10(count) - floor) / (math.log10(ceiling) - floor) if count > 0 else 0.0

        y_values = [10**e for e in range(0, int(math.log10(ceiling)) + 1)]
    else:
        step = _nice_step(peak / 5)
        ceiling = step * math.ceil(peak / step) if peak else step

        def scale(count: float) -> float:
            return count / ceiling

        y_values = [step * i for i in range(0, int(ceiling / step) + 1)]
    bar_width = plot_width / bins
    bars = []
    for i, count in enumerate(counts):
        h = scale(count) * plot_height
        bars.append(
            Bar(
                left + i * bar_width + 0.5,
                top + plot_height - h,
                bar_width - 1,
                h,
                i / bins,
                (i + 1) / bins,
                count,
            )
        )
    x_ticks = [Tick(left + plot_width * i / 10, f"{i / 10:.1f}") for i in range(11)]
    y_ticks = [Tick(top + plot_height - scale(v) * plot_height, f"{v:,}") for v in y_values]
    link_at, review_at = float(match.get("link_at", 0.95)), float(match.get("review_at", 0.5))
    thresholds = [
        Threshold("review", review_at, left + review_at * plot_width, top - 18),
        Threshold("link", link_at, left + link_at * plot_width, top - 4),
    ]
    return Histogram(
        width,
        height,
        left,
        top,
        plot_width,
        plot_height,
        bars,
        x_ticks,
        y_ticks,
        thresholds,
        log,
        sum(counts),
    )


def _nice_step(raw: float) -> int:
    """A round step (1, 2 or 5 times a power of ten) at least `raw`."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _charts(
    page: Page, kind: Kind, match: dict[str, Any], parameters: dict[str, Any] | None
) -> list[ComparisonChart]:
    """Each comparison's levels with their trained m, u and weight log2(m/u), in the settings' order."""
    if not parameters:
        return []
    charts = []
    for k, comparison in enumerate(match.get("comparisons", ())):
        m_row, u_row = parameters["m"][k], parameters["u"][k]
        levels = [
            LevelBars(
                _name(page, "level", kind, level["label"]),
                float(m),
                float(u),
                math.log2(m / u) if m > 0 and u > 0 else 0.0,
                bool(level.get("tf")),
            )
            for level, m, u in zip(comparison["levels"], m_row, u_row, strict=True)
        ]
        sessions = parameters.get("m_sessions") or []
        estimated = bool(sessions[k]) if k < len(sessions) else True
        charts.append(
            ComparisonChart(
                comparison["name"], _name(page, "comparison", kind, comparison["name"]), levels, estimated
            )
        )
    return charts


def _name(page: Page, family: str, kind: Kind, code: str) -> str:
    """The catalogue's words for a comparison or level of the built-in settings; a user's own settings
    name theirs themselves, and those names are shown as written."""
    strings = page.console_strings
    for key in (f"quality.{family}.{kind.value}.{code}", f"quality.{family}.{code}"):
        if key in strings:
            return page.t(key)
    return code


# The review counts of each kind, with the queue's state (newest review item, newest audit event) they
# were counted at.
_bands_cache: dict[tuple[str, Kind], tuple[tuple[int | None, int | None], list[BandRow]]] = {}
_bands_lock = threading.Lock()


def _review_bands(session: Session, kind: Kind) -> list[BandRow]:
    """Open, claimed and decided review items of `kind` per score band.

    Decided counts the stewards' decisions; items a later run superseded (decided, but by no one) are
    left out, they were never a steward's work.
    """
    state = (
        session.scalar(select(func.max(ReviewItem.id))),
        session.scalar(select(func.max(AuditEvent.id))),
    )
    key = (str(session.get_bind().engine.url), kind)
    with _bands_lock:
        cached = _bands_cache.get(key)
    if cached is not None and cached[0] == state:
        return cached[1]
    band = case(
        *((Judgement.score < high, name) for name, _, high in BANDS[:-1]),
        else_=BANDS[-1][0],
    )
    rows = session.execute(
        select(band, ReviewItem.status, func.count())
        .join(Judgement, Judgement.id == ReviewItem.judgement_id)
        .where(
            ReviewItem.kind == kind,
            or_(
                ReviewItem.status != ReviewStatus.DECIDED,
                and_(ReviewItem.status == ReviewStatus.DECIDED, ReviewItem.assignee.is_not(None)),
            ),
        )
        .group_by(band, ReviewItem.status)
    ).all()
    counts: dict[str, dict[str, int]] = {name: {s.value: 0 for s in _STATES} for name, _, _ in BANDS}
    for name, status, count in rows:
        counts[name][ReviewStatus(status).value] += int(count)
    out = [BandRow(name, counts[name], sum(counts[name].values())) for name, _, _ in BANDS]
    with _bands_lock:
        _bands_cache[key] = (state, out)
    return out
