"""Address parsing speed and accuracy.

    python bench/normalize_address.py                  # 20k dwellings' addresses, every form
    python bench/normalize_address.py --dwellings 50000

Speed is measured on one core over distinct strings in the forms the city's records use (the
doorplate platform's full form, the registry's, office shorthand, grid workers' colloquial forms with
Chinese numerals, full-width digits and noise words, traditional characters, company addresses,
migrants' home addresses elsewhere in China): uncached (every string parsed from scratch) and through
the LRU cache on a stream where each address recurs, as it does across departmental records.
Accuracy is per component on the hand-checked labelled set; key agreement is the share of dwellings
whose every written form gives the same blocking key.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from hub.generate.housing import build_housing
from hub.generate.noise import chinese_number, full_width, traditional
from hub.generate.pools import HOMETOWN_TOWNS, HOMETOWN_VILLAGES, MIGRANT_REGIONS, TOWNS
from hub.normalize.address import ParsedAddress, address_keys, parse_address

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "normalize" / "data" / "addresses.jsonl"
COMPONENTS = ParsedAddress._fields[:-1]


def city_addresses(dwellings: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """Distinct address strings of a generated city, and the forms written for each sampled dwelling."""
    rng = random.Random(seed)
    housing = build_housing(rng, dwellings)
    texts: set[str] = set()
    forms_of: list[list[str]] = []
    for dwelling in range(len(housing)):
        forms = [
            housing.full(dwelling),
            housing.registry(dwelling),
            housing.short(dwelling),
            housing.abbreviated(dwelling, rng),
            housing.spoken(dwelling, rng),
            housing.spoken(dwelling, rng),
        ]
        if rng.random() < 0.05:
            forms.append(traditional(housing.full(dwelling)))
        texts.update(forms)
        if dwelling % 10 == 0:
            forms_of.append(forms)
    for _ in range(dwellings // 5):
        texts.add(housing.street_address(rng, rng.choice(TOWNS)))
        region = rng.choice(MIGRANT_REGIONS)
        home = f"{region.name}{rng.choice(HOMETOWN_TOWNS)}{rng.choice(HOMETOWN_VILLAGES)}"
        group = chinese_number(rng.randint(1, 12)) if rng.random() < 0.7 else str(rng.randint(1, 12))
        address = f"{home}{group}组{rng.randint(1, 99)}号"
        texts.add(full_width(address) if rng.random() < 0.1 else address)
    distinct = sorted(texts)
    rng.shuffle(distinct)
    return distinct, forms_of


def rate(parse: Callable[[str], ParsedAddress], texts: list[str], repeats: int = 3) -> float:
    """Strings a second, the best of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for text in texts:
            parse(text)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def accuracy() -> tuple[int, dict[str, float], float]:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    right = dict.fromkeys(COMPONENTS, 0)
    for row in rows:
        parsed = parse_address.__wrapped__(row["text"])
        for name in COMPONENTS:
            right[name] += getattr(parsed, name) == row["expected"][name]
    per_component = {name: right[name] / len(rows) for name in COMPONENTS}
    return len(rows), per_component, sum(right.values()) / (len(rows) * len(COMPONENTS))


def key_agreement(forms_of: list[list[str]]) -> float:
    """Share of dwellings whose forms agree on key_room (flats) or key_road_number (village houses)."""
    agreeing = 0
    for forms in forms_of:
        keys = [address_keys(parse_address(form)) for form in forms]
        name = "key_room" if keys[0]["key_room"] else "key_road_number"
        agreeing += len({key[name] for key in keys}) == 1 and keys[0][name] is not None
    return agreeing / len(forms_of)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dwellings", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    texts, forms_of = city_addresses(args.dwellings, args.seed)
    uncached = rate(parse_address.__wrapped__, texts)
    # A stream where each address recurs four times, as across the registries' records.
    rng = random.Random(args.seed)
    stream = texts[:40_000] * 4
    rng.shuffle(stream)
    parse_address.cache_clear()
    cached = rate(parse_address, stream, repeats=1)
    hit_rate = parse_address.cache_info().hits / len(stream)
    all_hits = rate(parse_address, stream[:40_000])
    print(f"distinct strings: {len(texts)} (mean {sum(map(len, texts)) / len(texts):.1f} characters)")
    print(f"uncached: {uncached:,.0f} strings/s")
    print(f"cached:   {cached:,.0f} strings/s ({len(stream):,} lookups, hit rate {hit_rate:.0%})")
    print(f"cache hits alone: {all_hits:,.0f} strings/s")

    rows, per_component, overall = accuracy()
    print(f"labelled set: {rows} addresses")
    for name, share in per_component.items():
        print(f"  {name:<10}{share:7.2%}")
    print(f"  {'overall':<10}{overall:7.2%}")
    print(f"key agreement across the written forms of one dwelling: {key_agreement(forms_of):.2%}")


if __name__ == "__main__":
    main()
