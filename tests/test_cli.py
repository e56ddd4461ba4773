"""The `hub` command line as operators use it: exit codes, summaries and the crosswalk CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

RECORDS = [
    {"key": "p1", "name": "王伟", "id_number": "11010519491231002X"},
    {"key": "p2", "name": "李娜", "id_number": "110105194912310021"},
]


def create_file(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_ingest_prints_the_summary_and_exits_zero_despite_bad_rows(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    path = create_file(tmp_path, "p.jsonl", [json.dumps(r) for r in RECORDS] + ["{broken"])
    code, out, err = hub(database_url, "ingest", str(path), "--source", "public_security", "--kind", "person")
    assert code == 0
    assert out.strip().splitlines()[-1] == "new=2 changed=0 unchanged=0 quarantined=1"
    assert "broken JSON" in err
    code, out, _ = hub(database_url, "ingest", str(path), "--source", "public_security", "--kind", "person")
    assert out.strip().splitlines()[-1] == "new=0 changed=0 unchanged=2 quarantined=1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "company"], "unknown kind 'company'"),
        (["--kind", "person", "--encoding", "latin-1"], "encoding 'latin-1' is not supported"),
    ],
)
def test_ingest_refuses_bad_options_with_a_message(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    path = create_file(tmp_path, "p.jsonl", [json.dumps(RECORDS[0])])
    code, _, err = hub(database_url, "ingest", str(path), "--source", "tax", *args)
    assert code == 2
    assert message in err


def test_ingest_exits_non_zero_when_the_file_cannot_be_read(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    code, _, err = hub(
        database_url, "ingest", str(tmp_path / "missing.csv"), "--source", "tax", "--kind", "person"
    )
    assert code == 2
    assert "cannot open" in err


def test_crosswalk_has_one_row_per_record_with_the_contract_header(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    people = create_file(tmp_path, "p.jsonl", [json.dumps(r) for r in RECORDS])
    places = create_file(tmp_path, "a.jsonl", [json.dumps({"key": "D1", "address": "虞山街道1号"})])
    hub(database_url, "ingest", str(people), "--source", "public_security", "--kind", "person")
    hub(database_url, "ingest", str(places), "--source", "doorplate_platform", "--kind", "address")
    code, out, _ = hub(database_url, "export", "crosswalk")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["source", "kind", "key", "entity_id"]
    assert [row[:3] for row in rows[1:]] == [
        ["doorplate_platform", "address", "D1"],
        ["public_security", "person", "p1"],
        ["public_security", "person", "p2"],
    ]
    assert len({row[3] for row in rows[1:]}) == 3
    output = tmp_path / "crosswalk.csv"
    code, _, _ = hub(database_url, "export", "crosswalk", "--kind", "address", "--output", str(output))
    assert code == 0
    assert output.read_text(encoding="utf-8").splitlines() == ["source,kind,key,entity_id", ",".join(rows[1])]


def test_schema_command_prints_the_checked_in_schema(
    hub: Callable[..., tuple[int, str, str]], database_url: str
) -> None:
    code, out, _ = hub(database_url, "schema")
    assert code == 0
    assert out == (Path(__file__).resolve().parents[1] / "schema.graphql").read_text(encoding="utf-8")


def test_an_outdated_database_is_refused_until_upgraded(
    hub: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    from hub.store.database import make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:  # a database some other version of the hub created
        connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('0001')")  # the first
    engine.dispose()
    code, _, err = hub(url, "export", "crosswalk")
    assert code == 2
    assert "run `hub db upgrade` first" in err


def test_renormalize_reports_what_it_checked(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    path = create_file(tmp_path, "p.jsonl", [json.dumps(r) for r in RECORDS])
    hub(database_url, "ingest", str(path), "--source", "public_security", "--kind", "person")
    code, out, _ = hub(database_url, "renormalize", "--kind", "person")
    assert code == 0
    assert out.strip() == "checked=2 updated=0"


def test_resolve_evaluate_explain_and_resolve_on_ingest(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    from hub.generate import generate_city

    manifest = generate_city(1500, 3, tmp_path / "city")
    for f in manifest.files:
        path = str(tmp_path / "city" / f.path)
        code, _, _ = hub(
            database_url,
            "ingest",
            path,
            "--source",
            f.source,
            "--kind",
            f.kind,
            "-q",
            "--encoding",
            f.encoding,
        )
        assert code == 0
    code, out, _ = hub(database_url, "resolve", "--quiet")
    assert code == 0
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert set(lines) >= {"kind", "person", "address", "legal_entity", "links:"}
    records, entities = (int(v.replace(",", "")) for v in lines["person"][1:3])
    assert entities < records
    if database_url.startswith("postgresql"):
        # A batch run leaves its tables vacuumed and analyzed, not waiting for autovacuum.
        assert "vacuumed and analyzed" in out
        engine = create_engine(database_url)
        with engine.connect() as connection:
            vacuums = connection.exec_driver_sql(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'membership'"
            ).scalar_one()
        engine.dispose()
        assert vacuums >= 1
    else:
        assert "vacuumed" not in out

    code, out, _ = hub(
        database_url, "evaluate", "--truth", str(tmp_path / "city" / "truth.csv"), "--kind", "person"
    )
    assert code == 0
    f1 = float(next(line for line in out.splitlines() if line.startswith("pairwise")).split()[-1])
    assert f1 > 0.95

    # The city's folder: every kind, and the links per relation against the true relations.
    code, out, _ = hub(database_url, "evaluate", "--truth", str(tmp_path / "city"))
    assert code == 0
    scores = {
        line.split()[0]: [float(v) for v in line.split()[1:]]
        for line in out.split("links (relation: precision, recall, F1)\n")[1].splitlines()
    }
    assert set(scores) >= {"lives_at", "household_registered_at", "employed_by", "legal_representative"}
    assert all(0.8 < f1 <= 1.0 for _, _, f1 in scores.values()), scores

    first = json.loads((tmp_path / "city" / "household_registry_person.jsonl").read_text().splitlines()[0])
    tax = tmp_path / "late.jsonl"
    tax.write_text(
        json.dumps({"key": "LATE1", "name": first["name"], "id_number": first["id_number"]}) + "\n"
    )
    code, out, _ = hub(
        database_url, "ingest", str(tax), "--source", "tax", "--kind", "person", "-q", "--resolve"
    )
    assert code == 0
    assert "resolved=1 joined=1" in out and "links: " in out  # rebuilt, as `hub resolve` does
    code, out, _ = hub(
        database_url, "explain", "tax/person/LATE1", f"household_registry/person/{first['key']}"
    )
    assert code == 0
    assert "(the same)" in out and "id " in out

    code, _, err = hub(database_url, "explain", "tax/person/LATE1", "nowhere/person/x")
    assert code == 2 and "no source record" in err

    # Ingested without --resolve: a plain `hub resolve` resolves only what is new, then nothing.
    late = tmp_path / "later.jsonl"
    late.write_text(json.dumps({"key": "LATE2", "name": first["name"], "id_number": first["id_number"]}))
    assert hub(database_url, "ingest", str(late), "--source", "tax", "--kind", "person", "-q")[0] == 0
    code, out, _ = hub(database_url, "resolve", "--kind", "person", "-q")
    assert code == 0 and "1 new or changed, resolved one by one: 1 joined an entity" in out
    code, out, _ = hub(database_url, "resolve", "-q")
    assert code == 0 and out.count("up to date") == 3
    code, out, _ = hub(
        database_url, "explain", "tax/person/LATE2", f"household_registry/person/{first['key']}"
    )
    assert code == 0 and "(the same)" in out
    code, out, _ = hub(database_url, "resolve", "--all", "--kind", "person", "-q")
    assert code == 0 and out.splitlines()[1].startswith("person")
    assert int(out.splitlines()[1].split()[5].replace(",", "")) == 0  # nothing moves: it was all resolved

    # A user's own settings: the built-in ones with a stricter threshold.
    code, out, _ = hub(database_url, "settings", "person")
    assert code == 0
    strict = json.loads(out) | {"link_at": 0.999}
    (tmp_path / "strict.json").write_text(json.dumps(strict))
    code, out, _ = hub(
        database_url, "resolve", "--kind", "person", "--settings", str(tmp_path / "strict.json"), "-q"
    )
    assert code == 0 and out.splitlines()[1].startswith("person")
    (tmp_path / "broken.json").write_text(json.dumps(strict | {"link_at": 0.1}))
    code, _, err = hub(
        database_url, "resolve", "--kind", "person", "--settings", str(tmp_path / "broken.json")
    )
    assert code == 2 and "review_at <= link_at" in err


def test_load_with_resolve_resolves_a_first_night_and_links_the_next(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    """`hub load --resolve` does what `hub resolve` does after the load: a first night gets a batch
    run of each kind, a later one its new records resolved one by one; the links are rebuilt both
    times, so a new tenant of a known flat lives there in the graph the next morning."""
    from hub.generate import generate_city

    generate_city(300, 5, tmp_path / "city")
    code, out, err = hub(database_url, "load", str(tmp_path / "city" / "manifest.json"), "-q", "--resolve")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert {"person", "address", "legal_entity", "resolved", "links:"} <= set(rows)
    assert "one by one" not in out  # each kind's first run: a batch run

    flat = json.loads((tmp_path / "city" / "doorplate_platform_address.jsonl").read_text().splitlines()[0])
    night = tmp_path / "night"
    night.mkdir()
    tenant = {"key": "NIGHT1", "name": "欧阳新住", "phone": "13900001111", "address": flat["address"]}
    (night / "rental.jsonl").write_text(json.dumps(tenant, ensure_ascii=False) + "\n", encoding="utf-8")
    (night / "manifest.json").write_text(
        json.dumps({"files": [{"path": "rental.jsonl", "source": "rental_registry", "kind": "person"}]})
    )
    code, out, err = hub(database_url, "load", str(night / "manifest.json"), "-q", "--resolve")
    assert code == 0, err
    assert "1 new or changed, resolved one by one" in out and "links:" in out
    engine = create_engine(database_url)
    with engine.connect() as connection:
        lives_at = connection.exec_driver_sql(
            "SELECT a.key FROM source_record t"
            " JOIN membership mt ON mt.record_id = t.id AND mt.valid_to IS NULL"
            " JOIN link l ON l.subject_id = mt.entity_id AND l.relation = 'lives_at' AND l.valid_to IS NULL"
            " JOIN membership ma ON ma.entity_id = l.object_id AND ma.valid_to IS NULL"
            " JOIN source_record a ON a.id = ma.record_id WHERE t.key = 'NIGHT1'"
        ).scalars()
        assert flat["key"] in set(lives_at)
    engine.dispose()


def test_clients_add_prints_the_token_alone_on_the_last_line_and_revoke_refuses_it(
    hub: Callable[..., tuple[int, str, str]], database_url: str
) -> None:
    from sqlalchemy.orm import Session

    from hub.clients import authenticate
    from hub.store.database import make_engine

    code, out, _ = hub(
        database_url, "clients", "add", "tax-bureau", "--role", "reader", "--scope", "pii:read"
    )
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("hub_") and " " not in token
    engine = make_engine(database_url)
    with Session(engine) as session:
        client = authenticate(session, token)
        assert client is not None and client.name == "tax-bureau" and client.sees_pii
    code, out, _ = hub(database_url, "clients", "list")
    assert code == 0 and "tax-bureau" in out and "pii:read" in out and token not in out
    code, _, err = hub(database_url, "clients", "add", "tax-bureau")
    assert code == 2 and "exists already" in err
    code, _, err = hub(database_url, "clients", "add", "x", "--scope", "everything")
    assert code == 2 and "unknown scope" in err
    assert hub(database_url, "clients", "revoke", "tax-bureau")[0] == 0
    with Session(engine) as session:
        assert authenticate(session, token) is None
    engine.dispose()


def test_clients_list_keeps_long_names_apart_from_their_roles(
    hub: Callable[..., tuple[int, str, str]], database_url: str
) -> None:
    long_name = "market-regulation-bureau-enforcement-case-system"
    assert hub(database_url, "clients", "add", long_name, "--scope", "person", "--scope", "pii:read")[0] == 0
    assert hub(database_url, "clients", "add", "tax", "--role", "auditor")[0] == 0
    code, out, _ = hub(database_url, "clients", "list")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["name"] == ["name", "role", "scopes", "status"]
    assert rows[long_name] == [long_name, "reader", "person,", "pii:read", "active"]
    assert rows["tax"] == ["tax", "auditor", "-", "active"]
    assert hub(database_url, "clients", "revoke", "tax")[0] == 0
    rows = {
        line.split()[0]: line.split()
        for line in hub(database_url, "clients", "list")[1].splitlines()
        if line.strip()
    }
    assert rows["tax"][:4] == ["tax", "auditor", "-", "revoked"]


def test_an_unreachable_postgres_server_gets_one_line_and_exit_2(
    hub: Callable[..., tuple[int, str, str]],
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        url = f"postgresql+psycopg://hub:secret@127.0.0.1:{port}/hub"
        for args in (["clients", "list"], ["db", "current"], ["export", "crosswalk"]):
            code, out, err = hub(url, *args)
            assert code == 2, err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
            assert (
                f"cannot reach the database server of postgresql+psycopg://hub:***@127.0.0.1:{port}/hub"
                in err
            )
            assert "secret" not in err and "fix the host and port in HUB_DATABASE_URL" in err
            assert out == ""


@pytest.mark.postgres
def test_a_missing_postgres_database_gets_one_line_and_exit_2(
    hub: Callable[..., tuple[int, str, str]],
) -> None:
    from sqlalchemy.engine import make_url

    # Read here, not imported from conftest: with every test collected, `conftest` may name another
    # folder's conftest module.
    server = os.environ.get("HUB_TEST_POSTGRES_URL")
    assert server
    url = make_url(server).set(database="hub_no_such_database").render_as_string(hide_password=False)
    code, _, err = hub(url, "clients", "list")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "/hub_no_such_database does not exist" in err and "createdb" in err


def test_sqlite_in_a_missing_directory_gets_one_line_and_exit_2(
    hub: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'hub.db'}"
    for args in (["clients", "list"], ["db", "upgrade"], ["resolve"]):
        code, _, err = hub(url, *args)
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert f"the directory {tmp_path / 'nowhere'} does not exist" in err
    assert not (tmp_path / "nowhere").exists()


def test_a_sqlite_file_that_is_no_database_damaged_or_read_only_gets_one_line_and_exit_2(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    import sqlite3

    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite files only")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    good = Path(database_url.removeprefix("sqlite:///"))
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(good.read_bytes()[:5000])  # the header, then pages missing
    plain = tmp_path / "plain.db"  # a database not yet in WAL mode: switching it needs a write
    with sqlite3.connect(plain) as connection:
        connection.execute("CREATE TABLE t (x)")
    cases = [
        (f"sqlite:///{junk}", "is not a database or is damaged", "hub db restore"),
        (f"sqlite:///{damaged}", "is not a database or is damaged", "hub db restore"),
        (f"sqlite:///file:{plain}?mode=ro&uri=true", "cannot be written", "write access"),
    ]
    for url, said, advice in cases:
        for args in (["clients", "list"], ["db", "current"], ["audit", "verify"]):
            code, _, err = hub(url, *args)
            assert code == 2, (url, args, err)
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
            if args == ["clients", "list"]:  # the other two say it their own way
                assert said in err and advice in err, err
    assert junk.read_bytes() == b"not a database at all"  # nothing written over it


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("unable to open database file", "cannot open the SQLite database"),
        ("database is locked", None),  # a lock met during a command is not the database's address
        ("disk I/O error", None),
    ],
)
def test_only_a_failure_to_open_the_database_is_told_as_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, message: str, said: str | None
) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from hub.cli.common import database_failure

    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    at_connect = OperationalError(None, None, sqlite3.OperationalError(message))
    told = database_failure(at_connect)
    assert (told is None) if said is None else (told is not None and said in told)
    in_a_statement = OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))
    assert database_failure(in_a_statement) is None
    assert database_failure(ValueError(message)) is None


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("nosuchdb://root:pw@db/hub", "no database driver"),
        ("my-sql://root:pw@db/hub", "is not a database URL"),
        ("mysql://root:pw@db/hub", "is not installed"),  # a dialect SQLAlchemy knows, its driver absent
    ],
)
def test_a_url_no_driver_understands_gets_one_line_and_exit_2(
    hub: Callable[..., tuple[int, str, str]], url: str, said: str
) -> None:
    code, _, err = hub(url, "clients", "list")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert said in err and "root:***@db" in err and "pw@" not in err


def test_sources_trust_sets_ranks_per_field(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    path = create_file(tmp_path, "p.jsonl", [json.dumps(r) for r in RECORDS])
    hub(database_url, "ingest", str(path), "--source", "public_security", "--kind", "person")
    code, _, _ = hub(database_url, "sources", "trust", "public_security", "name=90", "*=50")
    assert code == 0
    code, out, _ = hub(database_url, "sources", "list")
    assert json.loads(out.split(maxsplit=1)[1]) == {"name": 90, "*": 50}
    code, _, err = hub(database_url, "sources", "trust", "nowhere", "name=1")
    assert code == 2 and "no source" in err
    code, _, err = hub(database_url, "sources", "trust", "public_security", "name=high")
    assert code == 2 and "FIELD=RANK" in err


def test_demo_without_serving_loads_resolves_and_says_how_to_serve(
    hub: Callable[..., tuple[int, str, str]], database_url: str, tmp_path: Path
) -> None:
    code, out, _ = hub(
        database_url,
        "demo",
        "--persons",
        "300",
        "--out",
        str(tmp_path / "city"),
        "--no-serve",
        "--port",
        "8123",
    )
    assert code == 0, out
    assert "Serve it:  hub serve --host 127.0.0.1 --port 8123" in out
    assert "Ctrl+C" not in out and "http://" not in out  # nothing listens, so no address to open
    assert "Bearer" in out and "reader" in out
    assert "/console/" in out
    roles = {row.split()[0] for row in out.splitlines() if row.strip().startswith(("steward ", "auditor "))}
    assert roles == {"steward", "auditor"}  # the console's two users each get a token
    engine = create_engine(database_url)
    with engine.connect() as connection:
        kinds = {kind for (kind,) in connection.exec_driver_sql("SELECT DISTINCT kind FROM entity")}
        links = connection.exec_driver_sql("SELECT count(*) FROM link").scalar_one()
    engine.dispose()
    assert kinds == {"person", "address", "legal_entity"}
    assert links > 0


def test_every_help_text_shows_its_bracketed_words(hub: Callable[..., tuple[int, str, str]]) -> None:
    """Help is rendered as rich markup, where `[dates]` is a style tag and vanishes unless escaped."""
    import typer.main

    from hub.cli import app

    def commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():  # a group's commands
            yield from commands(sub, [*path, name])

    checked = 0
    for path, command in commands(typer.main.get_command(app), []):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        wanted = {word.lstrip("\\") for text in texts for word in re.findall(r"\\*\[[\w.]+\]", text)}
        if not wanted:
            continue
        code, out, _ = hub("sqlite://", *path, "--help")
        assert code == 0
        for word in wanted:
            assert word in out, f"hub {' '.join(path)} --help lost {word}"
        checked += 1
    assert checked >= 1
