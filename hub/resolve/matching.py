"""`match`: score an unsaved record against the stored entities, writing nothing.

The record is normalized as ingestion would; its candidates are the entities sharing a search term
with it (plus, for legal entities, those whose core name contains its own); every current record of
those entities is compared with it under the settings and weights of the kind's latest resolution
run, and each entity is reported with its best-scoring record and that pair's per-comparison
explanation. Term frequencies are the whole kind's where the hub keeps counts of a value (the search
terms), else the level's average, so the weights are those a batch run would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.normalize.fields import SEARCH_FIELDS
from hub.resolve.columns import RecordTable
from hub.resolve.compare import compare_all
from hub.resolve.engine import probability
from hub.resolve.loading import latest_run
from hub.resolve.model import Parameters, pair_weights
from hub.resolve.settings import MatchSettings
from hub.search import candidates, current_match_fields, normalized_query
from hub.store.models import SEARCH_FIELD_IDS, SearchTerm, SourceRecord

__all__ = ["PERSONAL_MATCH_FIELDS", "MatchResult", "match_record"]


@dataclass(frozen=True, slots=True)
class MatchResult:
    entity_id: str
    record_id: int  # the entity's record that matched best
    weight: float
    probability: float
    would_join: bool
    steps: list[tuple[str, str, float]]  # comparison, level, weight in bits


# Match fields that hold personal identifiers: their comparisons' partial levels tell part of a value.
PERSONAL_MATCH_FIELDS = frozenset({"id_any", "phone", "birth_date"})


def match_record(
    session: Session, kind: Kind, record: dict[str, Any], first: int, *, exact_personal: bool = False
) -> list[MatchResult]:
    """The `first` entities the record would match best. `exact_personal`: a comparison of a personal
    identifier counts only as its first level (the same value) or its last (different), so that
    neither the explanation nor the weights reveal partial agreement ("one typo", "same year")."""
    run = latest_run(session, kind)
    settings = MatchSettings.from_json(run.settings["match"])
    parameters = Parameters.from_json(run.settings["parameters"])
    query = normalized_query(kind, record)
    like = query.fields.get("name_core") if kind == Kind.LEGAL_ENTITY else None
    entities = candidates(session, query, like=like)
    if not entities:
        return []
    rows = current_match_fields(session, entities)
    mine = {k: v for k, v in query.fields.items() if k != "features"}
    table = RecordTable.from_rows(
        [0, *(r[0] for r in rows)], [mine, *(r[2] for r in rows)], settings.fields()
    )
    _whole_kind_frequencies(session, kind, table, settings, parameters)
    left = np.zeros(len(rows), dtype=np.int64)
    right = np.arange(1, len(rows) + 1, dtype=np.int64)
    levels = compare_all(table, settings.comparisons, left, right)
    if exact_personal:
        for c, comparison in enumerate(settings.comparisons):
            if comparison.field in PERSONAL_MATCH_FIELDS:
                partial = levels[:, c] > 0
                levels[partial, c] = len(comparison.levels) - 1
    weights, parts = pair_weights(table, settings, parameters, left, levels)
    link_at = settings.link_at
    best: dict[str, MatchResult] = {}
    for k, (record_id, entity_id, _match) in enumerate(rows):
        weight = float(weights[k])
        if entity_id in best and best[entity_id].weight >= weight:
            continue
        steps = [(name, label, round(w, 3)) for name, label, w in settings.steps(levels[k], parts[k])]
        p = float(probability(weight))
        best[entity_id] = MatchResult(
            entity_id, record_id, round(weight, 3), round(p, 6), p >= link_at, steps
        )
    ranked = sorted(best.values(), key=lambda r: (-r.weight, r.entity_id))
    return ranked[:first]


def _whole_kind_frequencies(
    session: Session, kind: Kind, table: RecordTable, settings: MatchSettings, parameters: Parameters
) -> None:
    """Give the term-frequency columns the frequencies of the whole kind, not of this handful of rows."""
    total = (
        session.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.kind == kind)) or 1
    )
    for c, comparison in enumerate(settings.comparisons):
        for index, level in enumerate(comparison.levels):
            if not level.tf:
                continue
            name = level.field or comparison.field
            column = table.column(name)
            if name in SEARCH_FIELDS[kind]:
                counts = [
                    session.scalar(
                        select(func.count()).where(
                            SearchTerm.field_id == SEARCH_FIELD_IDS[kind, name], SearchTerm.term == value
                        )
                    )
                    or 1
                    for value in column.distinct
                ]
                column.with_frequencies(np.asarray(counts, dtype=np.float64) / total)
            else:  # no counts kept: the level's average weight
                column.with_frequencies(np.full(len(column.distinct), parameters.u[c][index]))
