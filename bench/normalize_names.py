"""Name normalization throughput on one core: person and company names, uncached and cached.

    python bench/normalize_names.py                  # 200k person names, 50k company names
    python bench/normalize_names.py --persons 1000000 --companies 100000

The streams are drawn like a city's records: person names from the generator's surname and
given-name pools (so 王伟 and 张敏 repeat by the thousand), with the commonest full names, minority
names with a middle dot, traditional characters, a grid worker's spaces, misheard homophones, rare
characters, Latin names and bracketed notes mixed in; company names with every region prefix, legal
form and branch suffix the registers use, some in traditional characters or half-width brackets.

Rates are names per CPU second of one process (time.process_time), best of three passes, so other
work on the machine weighs on them less. "uncached" calls the function behind the LRU cache for every
name (the per-character pinyin table, filled on the first pass, stays warm as it does in a running
process); "cached" starts from an empty LRU cache, so its figure includes every first miss.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from hub.generate.noise import misheard, traditional
from hub.generate.pools import (
    COMMON_FULL_NAMES,
    COMPANY_BRAND_FIRST,
    COMPANY_BRAND_SECOND,
    COMPANY_FORMS,
    COMPANY_INDUSTRIES,
    ERAS,
    LOCAL_SURNAMES,
    MINORITY_NAMES,
    NATIONAL_SURNAMES,
)
from hub.normalize import companies, names

_RARE_CHARS = "翀玥堃喆淼犇昊晟珺琰婕妤汐筠璟瑾煜熠弈骁骞铠锴昶晔曦旻"
_LATIN = ("John Smith", "MARIA GARCIA", "Ivan Petrov", "ＫＩＭ ＭＩＮＪＵＮ", "Nguyen Van An")
_COMPANY_PREFIXES = (
    "常熟市",
    "常熟市",
    "常熟市",
    "常熟",
    "常熟",
    "苏州",
    "江苏",
    "常熟市虞山镇",
    "常熟市梅李镇",
    "上海",
    "",
)
_BRANCHES = ("", "", "", "", "", "", "", "", "", "", "", "", "常熟分公司", "第一分店", "虞山分公司", "营业部")


def person_names(count: int, rng: random.Random) -> list[str]:
    """Draw `count` person names as a city's records hold them."""
    out: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05:
            name = rng.choice(COMMON_FULL_NAMES)
        elif roll < 0.06:
            name = rng.choice(MINORITY_NAMES)[0]
        elif roll < 0.065:
            name = rng.choice(_LATIN)
        else:
            era = rng.choice(ERAS)
            male = rng.random() < 0.5
            if rng.random() < era.single_share:
                given = rng.choice(era.male_single if male else era.female_single)
            else:
                first, second = (
                    (era.male_first, era.male_second) if male else (era.female_first, era.female_second)
                )
                given = rng.choice(first) + rng.choice(second)
            if rng.random() < 0.02:
                given = given[:-1] + rng.choice(_RARE_CHARS)
            name = rng.choice(LOCAL_SURNAMES if rng.random() < 0.7 else NATIONAL_SURNAMES) + given
        noise = rng.random()
        if noise < 0.05:
            name = misheard(name, rng)
        elif noise < 0.08:
            name = traditional(name)
        elif noise < 0.10 and len(name) == 2:
            name = f"{name[0]} {name[1]}"
        elif noise < 0.105:
            name = f"{name}（曾用名{name[0]}小{name[-1]}）"
        out.append(name)
    return out


def company_names(count: int, rng: random.Random) -> list[str]:
    """Draw `count` company names as the registers hold them: a city's ~12k companies, each written
    several ways (prefix, bracketed region, traditional, half-width brackets, branches)."""
    pool: list[tuple[str, str, str, str]] = []
    for _ in range(max(1, count // 4)):
        brand = rng.choice(COMPANY_BRAND_FIRST) + rng.choice(COMPANY_BRAND_SECOND)
        pool.append((brand, rng.choice(COMPANY_INDUSTRIES), rng.choice(COMPANY_FORMS), rng.choice(_BRANCHES)))
    out: list[str] = []
    for _ in range(count):
        brand, industry, form, branch = rng.choice(pool)
        roll = rng.random()
        if roll < 0.07:
            name = f"{brand}{industry}（常熟）{form}{branch}"
        elif roll < 0.12:
            name = f"{rng.choice(_COMPANY_PREFIXES)}{brand}{industry}{rng.choice('店厂')}"
        else:
            name = f"{rng.choice(_COMPANY_PREFIXES)}{brand}{industry}{form}{branch}"
        noise = rng.random()
        if noise < 0.05:
            name = traditional(name)
        elif noise < 0.10:
            name = name.replace("（", "(").replace("）", ")")
        elif noise < 0.12:
            name = f" {name} "
        out.append(name)
    return out


def rate(function: Callable[[str], object], items: Sequence[str]) -> float:
    """Names per CPU second of this process: other work on the machine does not count against it."""
    started = time.process_time()
    for item in items:
        function(item)
    return len(items) / (time.process_time() - started)


def report(
    label: str,
    items: Sequence[str],
    uncached: Callable[[str], object],
    cached: Callable[[str], object],
    clear: Callable[[], None],
) -> None:
    rate(uncached, items)  # warm-up: imports, OpenCC, the per-character pinyin table
    plain = max(rate(uncached, items) for _ in range(3))
    clear()
    with_cache = rate(cached, items)
    distinct = len(set(items))
    print(
        f"{label:<8} {len(items):>9,} names ({distinct:,} distinct)   "
        f"uncached {plain:>10,.0f} names/s   cached {with_cache:>10,.0f} names/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    report(
        "persons",
        person_names(args.persons, rng),
        names._normalize,  # the function behind the cache
        names.normalize_person_name,
        names._normalize_cached.cache_clear,
    )
    report(
        "companies",
        company_names(args.companies, rng),
        companies._normalize,
        companies.normalize_company_name,
        companies._normalize_cached.cache_clear,
    )


if __name__ == "__main__":
    main()
