"""Forty villages' houses as the offices write them, for tests of village houses and references to them.

Each village has group 1 (the hamlet 陆家宅) and group 2 (北港组), both with a house No. 3, and a house
No. 5 in group 2 only. The doorplate platform names the hamlets and gives codes; grid workers number
the groups or leave them out, and write the village without 村 or the number in Chinese numerals; the
rental registry writes a doorplate code with its shorthand, from which the model learns how much a
house written without its group is worth.
"""

from __future__ import annotations

VILLAGES = [a + b for a in "紫碧梅金永兴莲美" for b in "泉溪园塘浜"]
TOWN = "江苏省苏州市常熟市古里镇"


def village_houses() -> dict[str, list[dict[str, str]]]:
    """Address records by source: plates p{n}-{group}-{house}, grid visits v…/w…, rentals r{n}."""
    plates: list[dict[str, str]] = []
    visits: list[dict[str, str]] = []
    rentals: list[dict[str, str]] = []
    for n, village in enumerate(VILLAGES):
        g1, g2 = f"320581009{n:03d}001", f"320581009{n:03d}002"
        plates += [
            {"key": f"p{n}-1-3", "address": f"{TOWN}{village}村陆家宅3号", "grid_code": g1},
            {"key": f"p{n}-2-3", "address": f"{TOWN}{village}村北港组3号", "grid_code": g2},
            {"key": f"p{n}-2-5", "address": f"{TOWN}{village}村北港组5号", "grid_code": g2},
        ]
        for house, plate in enumerate(plates[-3:]):
            plate["doorplate_code"] = f"320581009{n:03d}{house:06d}"
        rentals.append(
            {"key": f"r{n}", "address": f"古里镇{village}5号", "doorplate_code": plates[-1]["doorplate_code"]}
        )
        visits += [
            {"key": f"v{n}-1-3", "address": f"古里镇{village}村一组3号", "grid_code": g1},  # group by number
            {"key": f"v{n}-2-3", "address": f"{village}村委会2组三号", "grid_code": g2},
            {"key": f"v{n}-2-5", "address": f"常熟古里镇{village}村五号", "grid_code": g2},  # group left out
            {"key": f"w{n}-2-5", "address": f"古里镇{village}5号", "grid_code": g2},  # and 村 too
        ]
    return {"doorplate_platform": plates, "grid_collection": visits, "rental_registry": rentals}


def numbered_groups(*, shared_grid: bool = False) -> dict[str, list[dict[str, str]]]:
    """Villages whose plates name the hamlets (紫泉村's 紫家宅 is group 1, 泉家浜 group 2, each with
    houses No. 3, 4 and 6) and whose grid workers number the groups, under the grid of each: the
    records that teach which number is which name. Rentals write houses No. 3 by number without a
    grid: q{n}-{group}. `shared_grid`: one grid for both hamlets, which teaches nothing. Flats of an
    estate that every office writes alike (f{i}) are what the model learns its weights from."""
    plates: list[dict[str, str]] = []
    visits: list[dict[str, str]] = []
    rentals: list[dict[str, str]] = []
    for n, village in enumerate(VILLAGES):
        for group, hamlet in ((1, f"{village[0]}家宅"), (2, f"{village[1]}家浜")):
            grid = f"320581009{n:03d}00{1 if shared_grid else group}"
            for house in (3, 4, 6):
                plates.append(
                    {
                        "key": f"p{n}-{group}-{house}",
                        "address": f"{TOWN}{village}村{hamlet}{house}号",
                        "grid_code": grid,
                        "doorplate_code": f"320581009{n:03d}{group:03d}{house:03d}",
                    }
                )
            visits += [
                {
                    "key": f"v{n}-{group}-{house}",
                    "address": f"古里镇{village}村{group}组{house}号",
                    "grid_code": grid,
                }
                for house in (4, 6)
            ]
            number = "一二"[group - 1]
            rentals += [
                {"key": f"q{n}-{group}", "address": f"常熟市古里镇{village}村委会{number}组3号"},
            ]
    for i in range(300):
        flat = {"key": f"f{i}", "address": f"常熟市虞山街道金色家园{1 + i // 20}幢{101 + i % 20}室"}
        plates.append(flat)
        visits.append(flat)
        rentals.append(flat)
    return {"doorplate_platform": plates, "grid_collection": visits, "rental_registry": rentals}
