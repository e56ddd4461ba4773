"""Addresses written inside person and company records, resolved to address entities with the address model.

A person's `address` or a company's `business_address` is a reference to a place, written as the
record's office writes it ("虞湾村9号", "泉辛16-1-702"). It is resolved as an address record would be:
its match fields are blocked, compared and weighed against the current address records with the
settings and trained weights of the latest address run, under the same hard rules (a different
building, unit or group, of any record of an entity, keeps the reference from it). It resolves to the
one address entity it matches at the link threshold; failing that, to the one entity it could be at
all (the review threshold); where the model may not decide (a flat without its unit in a building that
has the room in two units; a village house without its group where two groups have that number), to
the one candidate the same person's or company's other references resolve to (`hub.resolve.links`).
Otherwise it stays unresolved, with the reason:

- `no place`: the text names no flat, house or building (a town alone, a road without a number);
- `no candidate`: no address record shares a blocking key with it (an address no office registered);
- `uncertain`: no entity reaches the review threshold;
- `ambiguous`: it could be two or more address entities.

References are resolved once per distinct canonical text, however many records write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.errors import NotFoundError
from hub.resolve.blocking import block
from hub.resolve.columns import Column, is_in, sorted_unique
from hub.resolve.compare import compare_all
from hub.resolve.engine import bits, kept_apart, model_vetoed
from hub.resolve.loading import latest_run, load_records
from hub.resolve.model import Parameters, pair_weights
from hub.resolve.settings import MatchSettings

__all__ = ["REASONS", "ReferenceResolution", "names_a_dwelling", "resolve_references"]

REASONS = {
    "no place": "names no flat, house or building",
    "no candidate": "no address record shares a key with it",
    "uncertain": "no address entity reaches the review threshold",
    "ambiguous": "it could be two or more address entities",
    "no address run": "addresses have not been resolved yet",
}
_ORIGIN = "__origin"


@dataclass(slots=True)
class ReferenceResolution:
    """Each referenced canonical text's address entity, or why it has none."""

    entity: dict[str, str] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)  # canonical text → reason (a REASONS key)
    # an unresolved text's candidate entities (no hard rule against them, weighed at the review threshold
    # or above, though perhaps ambiguous), for other evidence to choose from
    candidates: dict[str, set[str]] = field(default_factory=dict)


def resolve_references(session: Session, references: pa.Table) -> ReferenceResolution:
    """Resolve each reference: a row of address match fields (`address_match_columns`), one per
    canonical text.

    The offices' places come first: each text is resolved against their records alone, as it was
    when the hub had made no address of its own. Only a text the hub would make an address for (one
    that could be none of the offices' places, and names a place of its own) is then weighed against
    the hub's own records, the addresses it made for such texts before (`hub.resolve.links`).
    Otherwise "康溪家园1#1401", placed at the registered flat "康溪家园1幢1单元1401室" when the links
    were first built, would move to the "康溪家园1幢1401室" the hub made then for another text, which
    it is more like; and the hub's records, in the blocks and frequencies the offices' records are
    weighed by, would move other texts too. The links are the same however often they are rebuilt
    from the same records.
    """
    out = ReferenceResolution()
    if not references.num_rows:
        return out
    try:
        run = latest_run(session, Kind.ADDRESS)
    except NotFoundError:
        out.unresolved = dict.fromkeys(references.column("canonical").to_pylist(), "no address run")
        return out
    settings = MatchSettings.from_json(run.settings["match"])
    parameters = Parameters.from_json(run.settings["parameters"])
    texts: list[str] = references.column("canonical").to_pylist()
    placed = _flags(
        pc.or_kleene(
            pc.is_valid(references.column("dwelling")), pc.is_valid(references.column("building_key"))
        )
    )
    offices = _match(session, settings, parameters, references, derived=False)
    names, chosen, per_reference = offices.names, offices.chosen, offices.per_reference
    candidates, compared = offices.candidates, offices.compared
    has_candidate = np.zeros(len(texts), dtype=bool)
    has_candidate[list(candidates)] = True
    named = _flags(names_a_dwelling(references))
    rows = np.flatnonzero((chosen < 0) & ~has_candidate & np.where(compared, named, placed))
    if rows.size:
        hubs = _match(session, settings, parameters, references.take(pa.array(rows)), derived=True)
        shift = len(names)  # the hub's entities are coded after the offices'
        names = names + hubs.names
        chosen[rows] = np.where(hubs.chosen >= 0, hubs.chosen + shift, -1)
        per_reference[rows] = hubs.per_reference
        for ref, codes in hubs.candidates.items():
            candidates[int(rows[ref])] = {code + shift for code in codes}
    for ref in np.flatnonzero(chosen >= 0).tolist():
        out.entity[texts[ref]] = names[int(chosen[ref])]
    for ref, found in candidates.items():
        if chosen[ref] < 0:
            out.candidates[texts[ref]] = {names[code] for code in found}
    for ref in np.flatnonzero(chosen < 0).tolist():
        text = texts[ref]
        if per_reference[ref] > 1 or text in out.candidates:
            out.unresolved[text] = "ambiguous"
        elif compared[ref]:
            out.unresolved[text] = "uncertain"
        else:
            out.unresolved[text] = "no candidate" if placed[ref] else "no place"
    return out


def _flags(values: pa.Array | pa.ChunkedArray) -> NDArray[np.bool_]:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


@dataclass(slots=True)
class _Matches:
    """What the address records of one kind of source make of each reference."""

    names: list[str]  # entity names by code
    chosen: NDArray[np.int64]  # each reference's entity code, -1 for none
    per_reference: NDArray[np.int64]  # the most entities a reference could be at one threshold
    candidates: dict[int, set[int]]  # reference left without an entity → compatible entity codes
    compared: NDArray[np.bool_]  # with a record at all


def _match(
    session: Session, settings: MatchSettings, parameters: Parameters, references: pa.Table, *, derived: bool
) -> _Matches:
    """Weigh each reference against the current address records of the offices (`derived` False) or
    of the hub's own source (True), and choose: the one entity it matches at the link threshold;
    failing that, the one entity it could be at all (at the review threshold), since no other known
    place is left for it; where it could be two, none."""
    count = references.num_rows
    loaded = load_records(session, Kind.ADDRESS, settings, extra=references, derived=derived)
    n = len(loaded.record_ids)
    if not n:
        return _Matches(
            [],
            np.full(count, -1, dtype=np.int64),
            np.zeros(count, dtype=np.int64),
            {},
            np.zeros(count, dtype=bool),
        )
    table = loaded.table
    origin = np.zeros(len(table), dtype=np.int64)
    origin[n:] = 1
    table.columns[_ORIGIN] = Column(origin, ["record", "reference"])
    _known_villages(table, n)
    left, right, _ = block(table, settings.blocking, across=_ORIGIN)
    # every pair is one record and one reference; put the record first
    left, right = np.minimum(left, right), np.maximum(left, right)
    levels = compare_all(table, settings.comparisons, left, right)
    weights, _ = pair_weights(table, settings, parameters, left, levels)
    entity = loaded.entity_codes[left]
    reference = right - n
    # A hard rule against one record of an entity is against the entity (a hamlet the reference names
    # differs from the one a plate of that house gives), as in clustering.
    apart = kept_apart(table, settings, left, right)
    pair_key = reference * (len(loaded.entity_names) + 1) + entity
    apart |= is_in(pair_key, pair_key[apart])
    compatible = ~apart & (entity >= 0) & (weights >= bits(settings.review_at))
    possible = compatible & ~model_vetoed(table, settings, left, right, levels)
    compared = np.zeros(count, dtype=bool)
    compared[reference] = True
    sure = weights[possible] >= bits(settings.link_at)
    chosen = np.full(count, -1, dtype=np.int64)
    per_reference = np.zeros(count, dtype=np.int64)
    for mask in (sure, np.ones(sure.size, dtype=bool)):
        refs, codes = _distinct_pairs(reference[possible][mask], entity[possible][mask])
        counts = np.bincount(refs, minlength=count)
        single = (counts[refs] == 1) & (chosen[refs] < 0) & (per_reference[refs] <= 1)
        chosen[refs[single]] = codes[single]
        per_reference = np.maximum(per_reference, counts)
    # Only a reference left without an entity has its candidates read: the others' (most of the
    # compatible pairs at a million persons) cost half a gigabyte as Python sets, for nothing.
    open_pairs = compatible & (chosen[reference] < 0)
    candidates: dict[int, set[int]] = {}
    refs, codes = _distinct_pairs(reference[open_pairs], entity[open_pairs])
    for ref, code in zip(refs.tolist(), codes.tolist(), strict=True):
        candidates.setdefault(ref, set()).add(code)
    return _Matches(list(loaded.entity_names), chosen, per_reference, candidates, compared)


def names_a_dwelling(references: pa.Table) -> pa.ChunkedArray:
    """Whether each text names a dwelling under a name of its own: not a building alone, nor a flat by
    an estate's short name (天里14幢403室), which two estates may have."""
    short = pc.fill_null(pc.equal(references.column("flat"), references.column("flat_core")), False)
    return pc.and_(pc.is_valid(references.column("dwelling")), pc.invert(short))


def _known_villages(table: Any, first_reference: int) -> None:
    """A reference to a village house written without 村 ("锦坝33号") names the village the address
    records know by that name (锦坝村): its community is filled in, as a gazetteer of villages would."""
    community, houses = table.column("community"), table.column("village_house")
    codes = community.codes.copy()
    rows = np.flatnonzero((codes[first_reference:] < 0) & (houses.codes[first_reference:] >= 0))
    if not rows.size:
        return
    index = {value: code for code, value in enumerate(community.distinct)}
    names = houses.distinct
    for row, house in zip(rows + first_reference, houses.codes[rows + first_reference].tolist(), strict=True):
        code = index.get(names[house].split("|", 1)[0] + "村")
        if code is not None:
            codes[row] = code
    table.columns["community"] = community.with_codes(codes)


def _distinct_pairs(
    references: NDArray[np.int64], entities: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The distinct (reference, entity) pairs, as two arrays."""
    width = int(entities.max(initial=-1)) + 1
    distinct = sorted_unique(references * width + entities)
    return distinct // max(width, 1), distinct % max(width, 1)
