"""Normalization speed per kind, and address-parsing accuracy on the labelled set.

    python bench/normalize.py [--persons 20000]

Speed is measured on one core over a generated city's records (uncached: every parser cache is
cleared before each kind), then again with warm caches, since names and addresses repeat heavily in
real data. Accuracy is per component over tests/normalize/data/addresses.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from hub.domain import Kind
from hub.normalize.records import OUTPUT_FIELDS

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = OUTPUT_FIELDS[Kind.ADDRESS][:-1]  # the eleven components, without `canonical`


def load_city(persons: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    from hub.generate import generate_city

    directory = ROOT / "bench" / "out" / f"city-{persons}-{seed}"
    if not (directory / "manifest.json").exists():
        generate_city(persons, seed, directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    records: dict[str, list[dict[str, Any]]] = {"person": [], "address": [], "legal_entity": []}
    for f in manifest["files"]:
        from hub.ingest.readers import open_source

        with open_source(directory / f["path"], f["encoding"]) as reader:
            records[f["kind"]].extend(row.value for row in reader if isinstance(row.value, dict))
    return records


def clear_caches() -> None:
    import hub.normalize as package

    for module in list(vars(package).values()):
        for value in vars(module).values() if hasattr(module, "__dict__") else ():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def speed(kind: Kind, records: list[dict[str, Any]]) -> tuple[float, float]:
    from hub.normalize.records import normalize_record

    clear_caches()
    started = time.perf_counter()
    for record in records:
        normalize_record(kind, record)
    cold = len(records) / (time.perf_counter() - started)
    started = time.perf_counter()
    for record in records:
        normalize_record(kind, record)
    warm = len(records) / (time.perf_counter() - started)
    return cold, warm


def address_accuracy() -> tuple[Counter[str], int]:
    from hub.normalize.address import parse_address

    right: Counter[str] = Counter()
    total = 0
    for line in (
        (ROOT / "tests" / "normalize" / "data" / "addresses.jsonl").read_text(encoding="utf-8").splitlines()
    ):
        if not line.strip():
            continue
        case = orjson.loads(line)
        parsed = parse_address(case["text"])._asdict()
        total += 1
        for component in COMPONENTS:
            right[component] += parsed[component] == case["expected"][component]
    return right, total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    city = load_city(args.persons, args.seed)
    print(f"{'kind':<14}{'records':>9}{'uncached/s':>12}{'cached/s':>11}")
    for kind, records in city.items():
        cold, warm = speed(Kind(kind), records)
        print(f"{kind:<14}{len(records):>9}{cold:>12,.0f}{warm:>11,.0f}")
    right, total = address_accuracy()
    print(f"\naddress components right on {total} labelled strings:")
    for component in COMPONENTS:
        print(f"  {component:<10}{right[component] / total:8.2%}")
    overall = sum(right.values()) / (total * len(COMPONENTS))
    print(f"  {'overall':<10}{overall:8.2%}")


if __name__ == "__main__":
    main()
