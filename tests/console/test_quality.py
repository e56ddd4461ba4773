"""The match-quality page: each kind's score histogram, thresholds, m and u, and the queue by band."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from console_city import ConsoleCity, shot
from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain import Kind, ReviewStatus
from hub.resolve.engine import SCORE_BINS
from hub.review import claim_item
from hub.store.models import Judgement, ResolutionRun, ReviewItem

BANDS = ("0-0.3", "0.3-0.5", "0.5-0.7", "0.7-0.9", "0.9-1")


def last_run(console: ConsoleCity, kind: Kind) -> ResolutionRun:
    with Session(console.engine) as session:
        run = session.scalars(
            select(ResolutionRun).where(ResolutionRun.kind == kind).order_by(ResolutionRun.id.desc())
        ).first()
        assert run is not None
        return run


def open_quality(console: ConsoleCity, kind: Kind, role: str = "steward", lang: str | None = None) -> Page:
    page = console.sign_in(role)
    page.goto(f"{console.base}/console/quality?kind={kind.value}" + (f"&lang={lang}" if lang else ""))
    return page


def review_counts(console: ConsoleCity, kind: Kind) -> dict[tuple[str, str], int]:
    """(band, state) -> items, counted here from the tables: stewards' decisions and live items only."""
    counts = {(band, state.value): 0 for band in BANDS for state in ReviewStatus}
    with Session(console.engine) as session:
        rows = session.execute(
            select(ReviewItem.status, ReviewItem.assignee, Judgement.score)
            .join(Judgement, Judgement.id == ReviewItem.judgement_id)
            .where(ReviewItem.kind == kind)
        ).all()
    for status, assignee, score in rows:
        assert score is not None
        if status == ReviewStatus.DECIDED and assignee is None:
            continue  # superseded by a later run, decided by no one
        band = next(b for b, high in zip(BANDS, (0.3, 0.5, 0.7, 0.9, 2.0), strict=True) if score < high)
        counts[(band, status.value)] += 1
    return counts


def shown_counts(page: Page) -> dict[tuple[str, str], int]:
    cells = page.locator("table.bands td[data-state]")
    out = {}
    for i in range(cells.count()):
        cell = cells.nth(i)
        band = cell.locator("xpath=..").get_attribute("data-band")
        out[(str(band), str(cell.get_attribute("data-state")))] = int(str(cell.get_attribute("data-count")))
    return out


@pytest.mark.parametrize("kind", list(Kind))
def test_the_histogram_counts_every_pair_the_run_scored(console: ConsoleCity, kind: Kind) -> None:
    run = last_run(console, kind)
    page = open_quality(console, kind)
    bars = page.locator(f"section[data-kind={kind.value}] svg rect.bar")
    assert bars.count() == SCORE_BINS
    counts = [int(str(bars.nth(i).get_attribute("data-count"))) for i in range(SCORE_BINS)]
    assert sum(counts) == run.stats["candidate_pairs"] > 0
    # The run's stored judgements are some of the pairs it scored: each bar holds at least those in it.
    with Session(console.engine) as session:
        scores = [
            s
            for s in session.scalars(select(Judgement.score).where(Judgement.run_id == run.id))
            if s is not None
        ]
    assert scores
    stored = [0] * SCORE_BINS
    for score in scores:
        stored[min(int(score * SCORE_BINS), SCORE_BINS - 1)] += 1
    assert all(shown >= held for shown, held in zip(counts, stored, strict=True))
    assert counts[-1] >= sum(1 for s in scores if s >= 1 - 1 / SCORE_BINS) > 0
    caption = page.locator("section.quality > p.muted").nth(0).inner_text()
    assert f"{sum(counts):,}" in caption


def test_the_thresholds_are_the_runs(console: ConsoleCity) -> None:
    run = last_run(console, Kind.PERSON)
    match = run.settings["match"]
    page = open_quality(console, Kind.PERSON)
    for name, value in (("link", match["link_at"]), ("review", match["review_at"])):
        line = page.locator(f"g[data-threshold={name}]")
        assert float(str(line.get_attribute("data-value"))) == value
        assert f"{value:.2f}" in str(line.text_content())
        x = float(str(line.locator("line").get_attribute("x1")))
        first, last = page.locator("rect.bar").first, page.locator("rect.bar").last
        left = float(str(first.get_attribute("x"))) - 0.5
        right = float(str(last.get_attribute("x"))) + float(str(last.get_attribute("width"))) + 0.5
        assert x == pytest.approx(left + value * (right - left), abs=0.01)  # drawn where it is on the axis
    assert page.locator("g[data-threshold=review] text").text_content() == f"送审 ≥ {match['review_at']:.2f}"


@pytest.mark.parametrize("kind", list(Kind))
def test_m_and_u_of_every_comparison_and_level(console: ConsoleCity, kind: Kind) -> None:
    run = last_run(console, kind)
    comparisons, parameters = run.settings["match"]["comparisons"], run.settings["parameters"]
    page = open_quality(console, kind)
    charts = page.locator("figure.comparison")
    assert [charts.nth(i).get_attribute("data-comparison") for i in range(charts.count())] == [
        c["name"] for c in comparisons
    ]
    for k, comparison in enumerate(comparisons):
        levels = charts.nth(k).locator("g.level")
        assert levels.count() == len(comparison["levels"])
        for index in range(levels.count()):
            level = levels.nth(index)
            m, u = parameters["m"][k][index], parameters["u"][k][index]
            assert float(str(level.get_attribute("data-m"))) == m
            assert float(str(level.get_attribute("data-u"))) == u
            assert level.locator("text.weight").text_content() == f"{math.log2(m / u):+.1f}"
            shown = level.locator("text.value").all_text_contents()
            assert shown == [f"{v:.3f}" if v >= 0.001 else f"{v:.1e}" for v in (m, u)]


def test_review_counts_agree_with_the_review_items_and_follow_a_claim(console: ConsoleCity) -> None:
    kind = Kind.PERSON
    expected = review_counts(console, kind)
    assert sum(expected.values()) > 0  # the city's relatives always leave the stewards some pairs
    page = open_quality(console, kind)
    shown = shown_counts(page)
    for band in BANDS:
        for state in ("open", "claimed", "decided"):
            assert shown[(band, state)] == expected[(band, state)], (band, state)
        assert shown[(band, "total")] == sum(expected[(band, s.value)] for s in ReviewStatus)
    busy = next(b for b in BANDS if expected[(b, "open")])
    link = page.locator(f"tr[data-band='{busy}'] td[data-state=open] a")
    assert link.get_attribute("href") == f"/console/queue?kind=person&band={busy}&state=open"

    # A steward claims an item: the page counts it as claimed at once.
    with Session(console.engine) as session, session.begin():
        item = session.scalars(
            select(ReviewItem).where(ReviewItem.kind == kind, ReviewItem.status == ReviewStatus.OPEN)
        ).first()
        assert item is not None
        claim_item(session, item.id, "steward-of-the-test")
    after = review_counts(console, kind)
    assert sum(after[(b, "claimed")] for b in BANDS) == sum(expected[(b, "claimed")] for b in BANDS) + 1
    page.reload()
    shown = shown_counts(page)
    assert all(shown[(b, "claimed")] == after[(b, "claimed")] for b in BANDS)
    assert all(shown[(b, "open")] == after[(b, "open")] for b in BANDS)


def test_english_and_chinese_both_render(console: ConsoleCity, tmp_path: Path) -> None:
    page = open_quality(console, Kind.ADDRESS, lang="en")
    assert "same flat, estate by a shorter name" in str(
        page.locator("figure[data-comparison=flat]").text_content()
    )
    shot(page, "quality-en", tmp_path)
    page = open_quality(console, Kind.PERSON, lang="en")
    assert page.locator("h1").inner_text() == "Match quality"
    assert "Score histogram" in page.inner_text("main")
    assert "Birth date" in page.locator("figure[data-comparison=birth_date] figcaption").inner_text()
    assert page.locator("table.bands th").first.inner_text() == "Score band"
    page = open_quality(console, Kind.LEGAL_ENTITY, lang="zh")
    assert page.locator("h1").inner_text() == "匹配质量"
    assert page.locator(".quality-tabs a.current").inner_text() == "法人"
    assert "统一社会信用代码" in page.locator("figure[data-comparison=uscc] figcaption").inner_text()
    assert "不同" in str(page.locator("figure[data-comparison=uscc] g.level").last.text_content())


def test_a_client_sees_only_the_kinds_it_reads(console: ConsoleCity) -> None:
    page = console.sign_in("steward", "address")
    page.goto(f"{console.base}/console/quality")
    assert page.locator(".quality-tabs a").all_inner_texts() == ["地址"]
    assert page.locator("section.quality").get_attribute("data-kind") == "address"
    response = page.goto(f"{console.base}/console/quality?kind=person")
    assert response is not None and response.status == 404


def test_an_auditor_reads_the_page_and_it_looks_finished(console: ConsoleCity, tmp_path: Path) -> None:
    blocked: list[str] = []
    page = console.sign_in("auditor", page=console.page(blocked=blocked))
    page.goto(f"{console.base}/console/quality")
    page.wait_for_load_state("networkidle")
    assert blocked == []
    assert page.locator(".quality-tabs a.current").inner_text() == "人员"
    assert page.locator("svg rect.bar").count() == SCORE_BINS
    assert page.evaluate("getComputedStyle(document.querySelector('rect.bar')).fill") != "rgb(0, 0, 0)"
    shot(page, "quality", tmp_path)


def test_a_run_that_kept_no_histogram_still_renders(console: ConsoleCity) -> None:
    run = last_run(console, Kind.ADDRESS)
    kept: dict[str, Any] = dict(run.stats)
    with Session(console.engine) as session, session.begin():
        stored = session.get(ResolutionRun, run.id)
        assert stored is not None
        stored.stats = {k: v for k, v in kept.items() if k != "score_histogram"}
    try:
        page = open_quality(console, Kind.ADDRESS)
        assert page.locator("p.not-recorded").inner_text() == "本次运行未记录。"
        assert page.locator("svg rect.bar").count() == 0
        assert page.locator("figure.comparison").count() == len(run.settings["match"]["comparisons"])
    finally:
        with Session(console.engine) as session, session.begin():
            stored = session.get(ResolutionRun, run.id)
            assert stored is not None
            stored.stats = kept
