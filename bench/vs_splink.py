"""The hub against Splink 5 (DuckDB) on the same generated city: pairwise F1 per kind, time and memory.

    pip install -e .[bench]                 # splink and duckdb: bench-only, like recordlinkage
    python bench/vs_splink.py --persons 100000 --profile field-notes
    python bench/vs_splink.py --persons 1000000 --profile field-notes

The city is generated and ingested into SQLite once (cached under bench/out/, shared with
bench/resolve.py). The hub's figures come from a fresh child process resolving every kind as
`hub resolve` does (bench/resolve.py's child, links left out of the timing here). Splink gets, in
another fresh child, the same records' normalized match fields as the hub stores them (IDs, names
and their pinyin keys, dates, phones, parsed address keys, company core names), so that the
comparison is of the linkers, not of the preprocessing; it is configured as a competent user would
from its documentation: blocking rules on the strong keys, comparisons from its comparison library
with term-frequency adjustments on names and places, the prior from deterministic rules, u from
random sampling, m by EM over two blocking passes, clusters at match probability 0.95.

Time is wall clock from loading the records to the clusters; memory the peak resident set of the
child and its workers together. Splink does no address grammar of its own: addresses get the same
keys and a similar model.

The last line sets the hub's whole pipeline against Splink: the source files ingested into a fresh
SQLite database (in a fresh child, as `hub load` does), every kind resolved and the entity links
built and stored (bench/resolve.py's child on that database), against Splink's time for persons and
legal entities; the goal is at most 1.5 times Splink's time with at most half its peak memory (the
hub's peak is the higher of its two children's; Splink's is that of its whole run).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import argument_parser, city
from resolve import PeakMemory, ingested_sqlite

# Per kind: the match fields Splink reads, its comparisons and blocking rules (built in the child).
FIELDS = {
    "person": [
        "id_any",
        "name",
        "name_key",
        "birth_date",
        "sex",
        "phone",
        "place",
        "place_room",
        "place_core",
    ],
    "address": ["flat", "flat_core", "room_key", "village_house", "doorplate", "grid", "street", "community"],
    "legal_entity": ["uscc_any", "name_core", "representative_key", "place", "phone", "established_on"],
}


def _settings(kind: str) -> tuple[Any, list[Any], list[Any]]:
    """Splink settings, deterministic rules (for the prior) and EM blocking rules of one kind."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    if kind == "person":
        comparisons = [
            cl.LevenshteinAtThresholds("id_any", [1]),
            cl.ExactMatch("name").configure(term_frequency_adjustments=True),
            cl.ExactMatch("name_key").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("place").configure(term_frequency_adjustments=True),
            cl.ExactMatch("place_room"),
            cl.ExactMatch("place_core"),
        ]
        blocking = [
            block_on("id_any"),
            block_on("phone"),
            block_on("name_key", "birth_date"),
            block_on("name_key", "place_room"),
            block_on("birth_date", "place_room"),
        ]
        deterministic = [block_on("id_any"), block_on("name", "birth_date")]
        em = [block_on("name_key", "birth_date"), block_on("place_room")]
    elif kind == "address":
        comparisons = [
            cl.ExactMatch("flat").configure(term_frequency_adjustments=True),
            cl.ExactMatch("flat_core"),
            cl.ExactMatch("room_key"),
            cl.ExactMatch("village_house").configure(term_frequency_adjustments=True),
            cl.ExactMatch("doorplate"),
            cl.ExactMatch("grid"),
            cl.ExactMatch("street"),
            cl.ExactMatch("community"),
        ]
        blocking = [
            block_on("flat"),
            block_on("room_key"),
            block_on("flat_core"),
            block_on("village_house"),
            block_on("doorplate"),
        ]
        deterministic = [block_on("doorplate"), block_on("flat", "street")]
        em = [block_on("room_key"), block_on("village_house")]
    else:
        comparisons = [
            cl.LevenshteinAtThresholds("uscc_any", [1]),
            cl.JaroWinklerAtThresholds("name_core", [0.95, 0.9]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("representative_key"),
            cl.ExactMatch("place"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("established_on"),
        ]
        blocking = [
            block_on("uscc_any"),
            block_on("name_core"),
            block_on("representative_key", "place"),
            block_on("phone"),
        ]
        deterministic = [block_on("uscc_any"), block_on("name_core", "representative_key")]
        em = [block_on("name_core"), block_on("representative_key")]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=list[Any](comparisons),
        blocking_rules_to_generate_predictions=list[Any](blocking),
        retain_intermediate_calculation_columns=False,
    )
    return settings, deterministic, em


def _records(url: str, kind: str) -> tuple[Any, list[tuple[str, str, str]]]:
    """The kind's records as a DataFrame of match fields, and each row's (source, kind, key)."""
    import orjson
    import pyarrow as pa
    from sqlalchemy import create_engine

    engine = create_engine(url)
    rows, keys = [], []
    with engine.connect() as connection:
        result = connection.exec_driver_sql(
            "SELECT r.id, s.name, r.key, v.match FROM source_record r JOIN source s ON s.id = r.source_id"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            f" WHERE r.kind = '{kind}' ORDER BY r.id"
        )
        for record_id, source, key, match in result:
            fields = orjson.loads(match) if match else {}
            rows.append({"record_id": record_id, **{name: fields.get(name) for name in FIELDS[kind]}})
            keys.append((source, kind, key))
    engine.dispose()
    schema = pa.schema([("record_id", pa.int64()), *((name, pa.string()) for name in FIELDS[kind])])
    return pa.Table.from_pylist(rows, schema=schema), keys


def splink_child(directory: Path, url: str) -> None:
    """Link every kind with Splink; print one JSON line: per kind P/R/F1 and seconds, wall and memory."""
    import logging

    from splink import DuckDBAPI, Linker

    from hub.resolve.evaluate import pairwise
    from hub.resolve.truth import read_truth

    logging.getLogger("splink").setLevel(logging.WARNING)
    memory = PeakMemory()
    started = time.perf_counter()
    out: dict[str, Any] = {}
    clusters: dict[str, dict[tuple[str, str, str], str]] = {}
    for kind in FIELDS:
        began = time.perf_counter()
        frame, keys = _records(url, kind)
        db_api = DuckDBAPI()
        table = db_api.register(frame, dataset_display_name=kind)
        settings, deterministic, em = _settings(kind)
        linker = Linker(table, settings)
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=1)
        for rule in em:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        predictions = linker.inference.predict(threshold_match_probability=0.5)
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=0.95
        ).as_pyarrow_table()
        cluster_of = dict(
            zip(clustered["record_id"].to_pylist(), clustered["cluster_id"].to_pylist(), strict=True)
        )
        ids = frame["record_id"].to_pylist()
        clusters[kind] = {key: f"c{cluster_of.get(i, f'own{i}')}" for key, i in zip(keys, ids, strict=True)}
        out[kind] = {"records": len(ids), "seconds": time.perf_counter() - began}
    wall = time.perf_counter() - started
    peak_mb = memory.stop()
    truth = read_truth(directory / "truth.csv")
    for kind, predicted in clusters.items():
        scores = pairwise(predicted, {k: v for k, v in truth.items() if k[1] == kind})
        out[kind].update(precision=scores.precision, recall=scores.recall, f1=scores.f1)
    print(json.dumps({"kinds": out, "wall": wall, "peak_mb": peak_mb}))


def ingest_child(directory: Path, url: str) -> None:
    """Ingest the city's files into the fresh database `url`; print one JSON line: seconds and peak MB."""
    from resolve import ingested

    memory = PeakMemory()
    started = time.perf_counter()
    ingested(directory, url)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": memory.stop()}))


def _run(args: list[str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True)
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--splink-child", action="store_true", help="(internal)")
    parser.add_argument("--ingest-child", action="store_true", help="(internal)")
    args = parser.parse_args()
    if args.splink_child:
        splink_child(args.child, args.url)
        return
    if args.ingest_child:
        ingest_child(args.child, args.url)
        return
    here = Path(__file__).resolve().parent
    for persons in (int(p) for p in args.persons.split(",")):
        directory = city(persons, args.seed, args.profile)
        cached = ingested_sqlite(directory, persons, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "bench.db"
            ingest = _run(
                [str(here / "vs_splink.py"), "--ingest-child", "--child", str(directory), "--url",
                 f"sqlite:///{work}"]
            )  # fmt: skip
            hub = _run([str(here / "resolve.py"), "--child", str(directory), "--url", f"sqlite:///{work}"])
            splink = _run(
                [str(here / "vs_splink.py"), "--splink-child", "--child", str(directory), "--url",
                 f"sqlite:///{cached}"]
            )  # fmt: skip
        hub_kinds = {k["kind"]: k for k in hub["kinds"]}
        print(f"{persons:,} persons, {args.profile} profile: pairwise P / R / F1")
        print(f"{'kind':<14}{'records':>10}   {'hub':<26}{'Splink 5':<26}")
        for kind in FIELDS:
            h, s = hub_kinds[kind], splink["kinds"][kind]
            print(
                f"{kind:<14}{h['records']:>10,}   "
                f"{h['precision']:.4f} / {h['recall']:.4f} / {h['f1']:.4f}   "
                f"{s['precision']:.4f} / {s['recall']:.4f} / {s['f1']:.4f}"
            )
        hub_wall = hub["kinds_wall"]
        print(
            f"time: hub {hub_wall:.1f} s, Splink {splink['wall']:.1f} s (hub / Splink"
            f" {hub_wall / splink['wall']:.2f}); peak memory: hub {hub['peak_mb']:,.0f} MB, Splink"
            f" {splink['peak_mb']:,.0f} MB (hub / Splink {hub['peak_mb'] / splink['peak_mb']:.2f})"
        )
        links = hub["links"]["seconds"]
        whole = ingest["seconds"] + hub["wall"]
        splink_two = splink["kinds"]["person"]["seconds"] + splink["kinds"]["legal_entity"]["seconds"]
        peak = max(ingest["peak_mb"], hub["peak_mb"])
        ratio, memory = whole / splink_two, peak / splink["peak_mb"]
        print(
            f"whole pipeline: hub load {ingest['seconds']:.1f} s + kinds {hub_wall:.1f} s + links"
            f" {links:.1f} s = {whole:.1f} s, Splink persons and legal entities {splink_two:.1f} s:"
            f" hub / Splink {ratio:.2f} (goal <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'}); peak memory"
            f" hub {peak:,.0f} MB / Splink {splink['peak_mb']:,.0f} MB = {memory:.2f} (goal <= 0.5:"
            f" {'met' if memory <= 0.5 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
