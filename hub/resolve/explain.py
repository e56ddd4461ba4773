"""Why two stored records are, or are not, one entity: the waterfall of the latest run's weights.

A pair the latest run scored is explained from its stored judgement at once; any other pair is
scored now with that run's settings and weights, which reads every record of the kind (term
frequencies need them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import InputError
from hub.resolve.engine import Explanation, explain_pair
from hub.resolve.loading import latest_run, load_records
from hub.resolve.model import Parameters
from hub.resolve.settings import MatchSettings, explanation_steps
from hub.store.models import Judgement, Membership, ResolutionRun, SourceRecord

__all__ = ["RecordPairExplanation", "explain_records", "format_waterfall"]


@dataclass(frozen=True, slots=True)
class RecordPairExplanation:
    kind: Kind
    run_id: int
    explanation: Explanation
    entity_a: str | None
    entity_b: str | None
    decisions: list[tuple[str, str, str]]  # decision, actor, note — the live judgements on the pair


def explain_records(session: Session, record_a: int, record_b: int) -> RecordPairExplanation:
    """Score the two records with the settings and weights of their kind's latest resolution run."""
    kinds = {
        kind
        for (kind,) in session.execute(
            select(SourceRecord.kind).where(SourceRecord.id.in_([record_a, record_b]))
        )
    }
    if len(kinds) != 1:
        raise InputError("the two records must be of the same kind")
    kind = kinds.pop()
    run = latest_run(session, kind)
    low, high = min(record_a, record_b), max(record_a, record_b)
    judgements = session.scalars(
        select(Judgement)
        .where(Judgement.record_a_id == low, Judgement.record_b_id == high, Judgement.deleted_at.is_(None))
        .order_by(Judgement.id)
    ).all()
    scored = next((j for j in judgements if _scored_with(session, j, run)), None)
    if scored is not None:  # scored with the run's weights: the stored explanation is the exact one
        steps = explanation_steps(run.settings, scored.explanation)
        prior = run.settings["parameters"]["prior"]
        explanation = Explanation(
            math.log2(prior / (1 - prior)),
            steps,
            float(scored.explanation["weight"]),
            bool(scored.explanation.get("held")),
        )
    else:  # score it now; term frequencies need every record of the kind
        settings = MatchSettings.from_json(run.settings["match"])
        parameters = Parameters.from_json(run.settings["parameters"])
        loaded = load_records(session, kind, settings)
        index = {record_id: i for i, record_id in enumerate(loaded.record_ids)}
        explanation = explain_pair(loaded.table, settings, parameters, index[record_a], index[record_b])
    memberships = session.execute(
        select(Membership.record_id, Membership.entity_id).where(
            Membership.record_id.in_([record_a, record_b]), Membership.valid_to.is_(None)
        )
    )
    entities = {record_id: entity_id for record_id, entity_id in memberships}
    decisions = [(j.decision.value, j.actor, j.note or "") for j in judgements]
    return RecordPairExplanation(
        kind, run.id, explanation, entities.get(record_a), entities.get(record_b), decisions
    )


def _scored_with(session: Session, judgement: Judgement, run: ResolutionRun) -> bool:
    """Whether a stored judgement was scored with `run`'s settings and weights (by it, or by a real-time
    run that borrowed them)."""
    if "levels" not in judgement.explanation or judgement.run_id is None:
        return False
    if judgement.run_id == run.id:
        return True
    other = session.get(ResolutionRun, judgement.run_id)
    return other is not None and other.settings == run.settings


def format_waterfall(result: RecordPairExplanation, name_a: str, name_b: str) -> str:
    """A text waterfall: the prior, then each comparison adding or taking bits, then the verdict."""
    e = result.explanation
    width = max(len(step[0]) for step in e.steps)
    label_width = max(len(step[1]) for step in e.steps)
    lines = [f"{name_a}  vs  {name_b}  ({result.kind.value}, weights of resolution run {result.run_id})", ""]
    running = e.prior_weight
    lines.append(f"  {'prior':<{width}}  {'':<{label_width}}  {e.prior_weight:+8.2f}  → {running:+8.2f}")
    for name, label, weight in e.steps:
        running += weight
        bar = ("+" if weight > 0 else "-") * min(int(abs(weight) + 0.5), 30)
        lines.append(f"  {name:<{width}}  {label:<{label_width}}  {weight:+8.2f}  → {running:+8.2f}  {bar}")
    lines.append("")
    lines.append(f"  match weight {e.weight:+.2f} bits, probability {e.probability:.4f}")
    if e.held:
        lines.append(
            "  held for a steward: the model may not join this pair however it scores (a level it"
            " never joins at, or a part left out that the records make ambiguous, such as a unit the"
            " building has two of)"
        )
    same = result.entity_a is not None and result.entity_a == result.entity_b
    lines.append(
        f"  entities: {result.entity_a} and {result.entity_b}" + (" (the same)" if same else " (different)")
    )
    for decision, actor, note in result.decisions:
        lines.append(f"  judgement: {decision} by {actor}" + (f": {note}" if note else ""))
    return "\n".join(lines) + "\n"
