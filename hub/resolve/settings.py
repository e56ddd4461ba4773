"""Match settings as data: blocking rules, comparisons of levels, hard rules and thresholds.

Settings name record fields, not the hub's kinds, so the same core links any records (the Febrl
benchmark runs through it). They round-trip through JSON and are stored with every resolution run,
so a result can be reproduced from the run alone.

Vocabulary (after Splink): a *blocking rule* says which pairs are worth comparing (records equal on
all its fields); a *comparison* turns one aspect of a pair into a *level*, the first of its levels
whose test holds (exact → close → far), or "missing" when either value is absent; each level gets a
Fellegi–Sunter weight log2(m/u) learnt from the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from hub.errors import InputError

__all__ = [
    "PREPARATIONS",
    "TESTS",
    "BlockingRule",
    "Comparison",
    "Constraint",
    "Level",
    "MatchSettings",
    "Step",
    "explanation_steps",
]

# One comparison's part of a pair's score: (comparison, level label, weight in bits).
Step = tuple[str, str, float]

# What a level may test. `exact`: equal values; `jaro_winkler` / `jaro` / `ratio`: similarity at least
# `threshold` (0–1); `levenshtein` / `damerau`: edit distance at most `threshold`; `prefix`: the first
# `threshold` characters equal; `days`: dates (ISO) at most `threshold` days apart; `numeric`: numbers
# at most `threshold` apart; `one_unknown`: the same text but for one character unknown (`?` or `*`
# in its place), or one left out or doubled, the first kept (王? / 王嘉凯 / 王凯); `else`: always (the
# last level: "different").
TESTS = (
    "exact",
    "jaro_winkler",
    "jaro",
    "ratio",
    "levenshtein",
    "damerau",
    "prefix",
    "days",
    "numeric",
    "one_unknown",
    "else",
)

# Steps over the loaded records before they are compared, each named in a kind's settings:
# `village_groups`: a village's groups by number take the hamlets' names the records teach
# (`hub.resolve.groups`).
PREPARATIONS = ("village_groups",)

Test = Literal[
    "exact", "jaro_winkler", "jaro", "ratio", "levenshtein", "damerau", "prefix", "days", "numeric",
    "one_unknown", "else",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a comparison: its label, its test, and the field it tests (default the comparison's).

    `tf`: on an `exact` level, weigh the agreement by how rare the value is (term-frequency adjustment),
    so that agreeing on a common name counts for less than agreeing on a rare one.
    `unique_in`: on an `exact` level that a record may reach with a part left out (a room without its
    unit), the fields that part would be in: where a record of the pair leaves one of them out and the
    records sharing the value of `unique_within` (default: the level's field) state two or more values
    of it (the room is written with unit 1 and with unit 2), the agreement cannot say which is meant,
    and the model never joins the pair (a steward may); where they state one, it counts.
    `unique_narrowed_by`: fields that, where the two records of the pair share a value, narrow the
    records counted to those sharing it too (a village's houses No. 9 in one grid, not the whole
    village's).
    """

    label: str
    test: Test
    threshold: float | None = None
    field: str | None = None
    tf: bool = False
    unique_in: tuple[str, ...] = ()
    unique_within: str | None = None
    unique_narrowed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """One aspect of a pair (a name, a birth date) with its levels, best first; the last is `else`."""

    name: str
    field: str
    levels: tuple[Level, ...]

    def fields(self) -> set[str]:
        return {self.field} | {level.field for level in self.levels if level.field}

    def label(self, level: int) -> str:
        """The name of `level`, an index into `levels`; "missing" (-1) when either value was absent."""
        return "missing" if level < 0 else self.levels[level].label


@dataclass(frozen=True, slots=True)
class BlockingRule:
    """Compare the pairs of records equal on every field here (none of them missing).

    A block bigger than `max_block` records (one shared call-centre phone) is skipped, not compared:
    its pairs would swamp the run and say little.
    """

    fields: tuple[str, ...]
    max_block: int = 200

    @property
    def name(self) -> str:
        return "+".join(self.fields)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A hard rule on one field.

    `join`: two records with the same (non-missing) value are the same entity, whatever they score,
    unless `veto_below` is set and the other comparisons (all but those in `veto_ignores`) weigh less
    than that many bits: then the pair is kept apart and goes to the stewards (a child recorded under
    a parent's ID number shares the number, not the name or the birth date).
    `apart`: two records with different values are never the same entity, and no chain of matches may
    join them either; with `missing_counts`, a missing value counts as a value of its own (a head
    office, having no branch name, never joins a branch). With `parsed`, the value is read out of
    free text (a building number, a town): a `join` on a code (a doorplate code, an ID number) is not
    refused by it, since parses fail more often than codes are reused; matches by the model still are.
    """

    rule: Literal["join", "apart"]
    field: str
    missing_counts: bool = False
    parsed: bool = False
    veto_below: float | None = None
    veto_ignores: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Everything a resolution run needs besides the records themselves.

    `link_at` / `review_at` are match probabilities: a pair at or above `link_at` joins, one from
    `review_at` up to `link_at` goes to the stewards. `link_only_across`: compare only records whose
    value of that field differs (linking two datasets rather than deduplicating one).
    `u_sample_pairs`: random pairs drawn to learn how often non-matches agree by chance.
    `train_min_records`: with fewer records, a stored run reuses the weights its last run with the same
    settings learnt (a handful of records teach nothing about how rare a value is).
    `model_vetoes`: (comparison, level label) pairs at which the model never joins a pair, however the
    other comparisons add up (a different name outweighs a shared flat and phone: family members share
    those); such a pair can still be joined by a hard rule or a steward, and reaches review at most.
    `prepare`: steps run over the loaded records before anything is compared (`PREPARATIONS`).
    """

    comparisons: tuple[Comparison, ...]
    blocking: tuple[BlockingRule, ...]
    constraints: tuple[Constraint, ...] = ()
    link_at: float = 0.95
    review_at: float = 0.5
    link_only_across: str | None = None
    model_vetoes: tuple[tuple[str, str], ...] = ()
    u_sample_pairs: int = 300_000
    train_min_records: int = 1000
    em_iterations: int = 50
    em_tolerance: float = 1e-5
    seed: int = 1
    prepare: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.review_at <= self.link_at <= 1.0:
            raise InputError(
                f"thresholds: need 0 < review_at <= link_at <= 1, got {self.review_at} and {self.link_at}"
            )
        if not self.comparisons:
            raise InputError("settings need at least one comparison")
        unknown = [name for name in self.prepare if name not in PREPARATIONS]
        if unknown:
            raise InputError(f"prepare: unknown steps {unknown}; known: {sorted(PREPARATIONS)}")
        if not self.blocking:
            raise InputError("settings need at least one blocking rule")
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise InputError(f"comparison names must differ: {names}")
        labels = {c.name: {level.label for level in c.levels} for c in self.comparisons}
        for name, label in self.model_vetoes:
            if label not in labels.get(name, ()):
                raise InputError(f"model_vetoes: no comparison {name!r} with a level {label!r}")
        for comparison in self.comparisons:
            if not comparison.levels or comparison.levels[-1].test != "else":
                raise InputError(f"comparison {comparison.name!r}: the last level must test 'else'")
            for level in comparison.levels:
                if level.test not in TESTS:
                    raise InputError(f"comparison {comparison.name!r}: unknown test {level.test!r}")
                needs = level.test not in ("exact", "one_unknown", "else")
                if needs and level.threshold is None:
                    raise InputError(
                        f"comparison {comparison.name!r}, level {level.label!r}: "
                        f"{level.test} needs a threshold"
                    )
                if (level.tf or level.unique_in) and level.test != "exact":
                    raise InputError(
                        f"comparison {comparison.name!r}, level {level.label!r}: "
                        "tf and unique_in apply to exact levels"
                    )

    def fields(self) -> set[str]:
        """Every record field these settings read."""
        out: set[str] = set()
        for comparison in self.comparisons:
            out |= comparison.fields()
            for level in comparison.levels:
                out.update(level.unique_in)
                out.update(level.unique_narrowed_by)
                if level.unique_within:
                    out.add(level.unique_within)
        for rule in self.blocking:
            out.update(rule.fields)
        out.update(c.field for c in self.constraints)
        if self.link_only_across:
            out.add(self.link_only_across)
        return out

    def steps(self, levels: Sequence[Any], weights: Sequence[Any]) -> list[Step]:
        """One pair's waterfall: each comparison's (name, level label, weight in bits), in order."""
        return [
            (comparison.name, comparison.label(int(level)), float(weight))
            for comparison, level, weight in zip(self.comparisons, levels, weights, strict=True)
        ]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchSettings:
        """Settings from their JSON form (as `to_json` writes and a user may edit)."""
        try:
            comparisons = tuple(
                Comparison(
                    name=c["name"],
                    field=c["field"],
                    levels=tuple(
                        Level(
                            **{
                                **level,
                                "unique_in": tuple(level.get("unique_in", ())),
                                "unique_narrowed_by": tuple(level.get("unique_narrowed_by", ())),
                            }
                        )
                        for level in c["levels"]
                    ),
                )
                for c in data["comparisons"]
            )
            blocking = tuple(
                BlockingRule(tuple(b["fields"]), b.get("max_block", 200)) for b in data["blocking"]
            )
            constraints = tuple(
                Constraint(**{**c, "veto_ignores": tuple(c.get("veto_ignores", ()))})
                for c in data.get("constraints", ())
            )
            vetoes = tuple((name, label) for name, label in data.get("model_vetoes", ()))
            structured = ("comparisons", "blocking", "constraints", "model_vetoes", "prepare")
            scalars = {k: v for k, v in data.items() if k not in structured}
            return cls(
                comparisons=comparisons,
                blocking=blocking,
                constraints=constraints,
                model_vetoes=vetoes,
                prepare=tuple(data.get("prepare", ())),
                **scalars,
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"match settings: {exc}") from exc


def explanation_steps(run_settings: Mapping[str, Any] | None, explanation: Mapping[str, Any]) -> list[Step]:
    """A stored judgement's explanation, named with the settings of the run that scored it.

    Judgements store each comparison's level index and weight; the names live once in the run's
    settings, so that a million judgements do not repeat them. A steward's judgement has none.
    """
    levels, weights = explanation.get("levels") or [], explanation.get("weights") or []
    if not levels or run_settings is None:
        return []
    return MatchSettings.from_json(dict(run_settings["match"])).steps(levels, weights)
