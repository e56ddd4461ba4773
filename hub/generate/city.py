"""generate_city: a synthetic county-level city (常熟市, 江苏省苏州市) written as departmental source
files plus truth.csv and manifest.json, deterministic per seed.

Everything random comes from one `random.Random(seed)`, drawn in a fixed order, so the same seed
gives byte-identical files. Persons stream household by household; only the housing stock, the
companies and small reservoirs stay in memory.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from hub.generate.companies import EmployerPicker, RepresentativeDraft, build_companies
from hub.generate.fieldnotes import PROFILES, FieldNotes
from hub.generate.housing import build_housing
from hub.generate.people import Population
from hub.generate.sources import SourceSet

__all__ = ["CityManifest", "SourceFile", "generate_city"]

DWELLINGS_PER_PERSON = 0.4  # ~2.5 persons per dwelling; households average ~2.7, so some stand empty
EMPLOYMENT_RATE = {False: 0.5, True: 0.65}  # of residents / migrants aged 18-60: employed by a city company
_PROGRESS_STEPS = 100  # progress reports per city, but not more often than every 1000 persons


@dataclass(frozen=True)
class SourceFile:
    """One written source file: where it is, which source and kind it holds, how to read it."""

    path: str
    source: str
    kind: str
    encoding: str
    records: int


@dataclass(frozen=True)
class CityManifest:
    """What `generate_city` wrote: the source files and the answer key."""

    persons: int
    seed: int
    files: list[SourceFile]
    truth_path: str
    profile: str = "classic"
    relations_path: str = "relations.csv"


def generate_city(
    persons: int,
    seed: int,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    *,
    profile: str = "classic",
) -> CityManifest:
    """Write a city of `persons` people into `out_dir`: source files, truth.csv and manifest.json.

    `progress`, when given, is called with the number of persons done so far, about every 1% of
    them (every 1000 at least) and at the end.
    """
    if persons < 1:
        raise ValueError(f"persons must be at least 1, got {persons}")
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r}: choose one of {', '.join(PROFILES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    housing = build_housing(rng, max(4, round(persons * DWELLINGS_PER_PERSON)))
    companies = build_companies(rng, persons, housing)
    population = Population(rng, housing, persons)
    draft = RepresentativeDraft(rng, companies, housing, persons)
    employers = EmployerPicker(rng, companies)
    notes = FieldNotes(housing, seed) if profile == "field-notes" else None
    sources = SourceSet(out_dir, rng, housing, companies, notes)
    step = max(1_000, persons // _PROGRESS_STEPS)
    try:
        done = 0
        for household in population:
            for person in household.members:
                draft.offer(person)
                if (
                    person.employer < 0
                    and employers
                    and 18 <= person.age <= 60
                    and rng.random() < EMPLOYMENT_RATE[person.migrant]
                ):
                    person.employer = employers.pick()
            sources.add_household(household)
            before, done = done, done + len(household.members)
            if progress is not None and done // step != before // step and done < persons:
                progress(done)
        draft.finish()
        sources.add_addresses(population.occupancy)
        sources.add_companies()
    finally:
        sources.close()
    if progress is not None:
        progress(persons)
    files = [
        SourceFile(writer.path, writer.source, writer.kind, writer.encoding, writer.records)
        for writer in sources.writers.values()
    ]
    manifest = CityManifest(
        persons, seed, files, sources.truth.path.name, profile, sources.relations.path.name
    )
    manifest_json = orjson.dumps(asdict(manifest), option=orjson.OPT_INDENT_2) + b"\n"
    (out_dir / "manifest.json").write_bytes(manifest_json)
    return manifest
