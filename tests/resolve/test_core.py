"""The generic resolution core on tiny hand-countable data: blocking, levels, weights, clustering."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from samples import PERSON, people

from hub.errors import InputError
from hub.resolve.blocking import block
from hub.resolve.cluster import ConstrainedClusters
from hub.resolve.columns import RecordTable
from hub.resolve.compare import MISSING, compare
from hub.resolve.engine import explain_pair, resolve
from hub.resolve.model import Parameters, _em, pair_weights
from hub.resolve.settings import BlockingRule, Comparison, Level, MatchSettings


def table(**columns: Sequence[object]) -> RecordTable:
    n = len(next(iter(columns.values())))
    return RecordTable.from_columns(list(range(n)), dict(columns))


def pairs(left: np.ndarray, right: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(left.tolist(), right.tolist(), strict=True))


def test_blocking_pairs_records_equal_on_every_field_of_a_rule_once_each() -> None:
    t = table(
        surname=["wang", "wang", "wang", "li", "li", None],
        year=["1980", "1980", "1990", "1980", "1980", "1980"],
    )
    left, right, stats = block(t, (BlockingRule(("surname", "year")), BlockingRule(("surname",))))
    assert pairs(left, right) == {(0, 1), (0, 2), (1, 2), (3, 4)}
    assert [s.pairs for s in stats] == [2, 4]  # (0,1),(3,4); then wang×3 → 3 pairs + li → 1


def test_a_block_over_its_cap_is_skipped_and_counted() -> None:
    t = table(phone=["400"] * 5 + ["139", "139"])
    left, right, stats = block(t, (BlockingRule(("phone",), max_block=4),))
    assert pairs(left, right) == {(5, 6)}
    assert (stats[0].skipped_blocks, stats[0].skipped_records) == (1, 5)


def test_linking_compares_only_across_datasets() -> None:
    t = table(name=["a", "a", "a"], dataset=["x", "x", "y"])
    left, right, _ = block(t, (BlockingRule(("name",)),), across="dataset")
    assert pairs(left, right) == {(0, 2), (1, 2)}


NAME = Comparison(
    "name",
    "name",
    (
        Level("exact", "exact", tf=True),
        Level("sounds alike", "exact", field="name_key"),
        Level("close", "jaro_winkler", 0.85),
        Level("different", "else"),
    ),
)


def test_levels_take_the_first_test_that_holds_and_missing_is_its_own() -> None:
    t = table(
        name=["张伟", "张伟", "章伟", "张伟伟", "李娜", None],
        name_key=["zhang wei", "zhang wei", "zhang wei", "zhang wei wei", "li na", None],
    )
    left = np.array([0, 0, 0, 0, 0], dtype=np.int64)
    right = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    assert compare(t, NAME, left, right).tolist() == [0, 1, 2, 3, MISSING]


def test_date_and_prefix_levels() -> None:
    birth = Comparison(
        "birth",
        "birth",
        (
            Level("exact", "exact"),
            Level("within a week", "days", 7),
            Level("same year", "prefix", 4),
            Level("different", "else"),
        ),
    )
    t = table(birth=["1985-03-02", "1985-03-02", "1985-03-08", "1985-11-30", "1990-01-01"])
    left = np.zeros(4, dtype=np.int64)
    right = np.arange(1, 5, dtype=np.int64)
    assert compare(t, birth, left, right).tolist() == [0, 1, 2, 3]


def test_em_recovers_how_often_matches_agree() -> None:
    # 1,000 pairs: 300 matches agreeing 90 % of the time, 700 non-matches agreeing as often as u says.
    rng = np.random.default_rng(5)
    match = np.r_[np.ones(300, bool), np.zeros(700, bool)]
    agree_a = np.where(match, rng.random(1000) < 0.9, rng.random(1000) < 0.05)
    agree_b = np.where(match, rng.random(1000) < 0.8, rng.random(1000) < 0.1)
    levels = np.stack([np.where(agree_a, 0, 1), np.where(agree_b, 0, 1)], axis=1).astype(np.int8)
    m = _em(levels, [[0.05, 0.95], [0.1, 0.9]], [[0.5, 0.5], [0.5, 0.5]], 100, 1e-7)
    assert m[0][0] == pytest.approx(0.9, abs=0.05)
    assert m[1][0] == pytest.approx(0.8, abs=0.06)


def test_a_common_name_counts_for_less_than_a_rare_one() -> None:
    settings = MatchSettings(comparisons=(NAME,), blocking=(BlockingRule(("name",)),))
    t = table(
        name=["王伟"] * 50 + ["欧阳娜娜", "欧阳娜娜"],
        name_key=["wang wei"] * 50 + ["ouyang nana"] * 2,
    )
    params = Parameters([[0.9, 0.05, 0.03, 0.02]], [[0.01, 0.01, 0.01, 0.97]], prior=0.01, m_sessions=[0])
    left = np.array([0, 50], dtype=np.int64)
    levels = np.array([[0], [0]], dtype=np.int8)
    total, parts = pair_weights(t, settings, params, left, levels)
    common, rare = parts[:, 0].tolist()
    assert rare > common
    assert common == pytest.approx(math.log2(0.9 / (50 / 52)), rel=1e-4)
    assert total[1] == pytest.approx(rare + math.log2(0.01 / 0.99), rel=1e-4)


def test_cannot_link_holds_against_a_chain_of_matches() -> None:
    # 0 and 2 hold different ID numbers; 1 has none and looks like both.
    clusters = ConstrainedClusters(3, [["A", None, "B"]])
    assert clusters.join(0, 1)
    assert not clusters.join(1, 2)
    assert clusters.labels().tolist() == [0, 0, 2]
    assert clusters.refused == 1


def test_a_stewards_negative_decision_binds_any_later_join() -> None:
    clusters = ConstrainedClusters(4, [])
    clusters.forbid([(0, 3)])
    assert clusters.join(0, 1) and clusters.join(2, 3)
    assert not clusters.join(1, 2)
    assert not clusters.join(1, 3, override_apart=True)
    assert clusters.labels().tolist() == [0, 0, 2, 2]


def test_a_negative_decision_given_after_joins_binds_the_clusters_already_formed() -> None:
    clusters = ConstrainedClusters(5, [])
    assert clusters.join(0, 1) and clusters.join(2, 3)
    clusters.forbid([(1, 3)])
    assert not clusters.join(0, 2)
    assert clusters.join(4, 2) and not clusters.join(1, 4)
    assert clusters.labels().tolist() == [0, 0, 2, 2, 2]


def test_a_stewards_positive_decision_overrides_apart_values() -> None:
    clusters = ConstrainedClusters(2, [["A", "B"]])
    assert not clusters.join(0, 1)
    assert clusters.join(0, 1, override_apart=True)


def test_hard_rules_join_the_same_id_and_keep_different_ids_apart() -> None:
    result = resolve(people(), PERSON)
    labels = result.labels.tolist()
    assert labels[0] == labels[1]  # everything agrees
    assert labels[2] != labels[0]  # everything agrees too, but ID B ≠ A
    assert labels[3] == labels[4]  # same ID despite every other field
    assert result.stats["joined_by_rule"] == 1
    assert result.stats["refused_by_constraints"] >= 1


def test_a_pair_the_hard_rules_keep_apart_is_no_question_for_a_steward() -> None:
    result = resolve(people(), PERSON)
    [row] = np.flatnonzero((result.left == 0) & (result.right == 2))  # all agrees but the valid IDs
    assert result.weights[row] >= math.log2(PERSON.review_at / (1 - PERSON.review_at))
    assert result.labels[0] != result.labels[2]
    assert not result.review[row]


def test_stewards_decisions_outrank_rules_and_model() -> None:
    result = resolve(people(), PERSON, cannot_link=[(3, 4), (0, 1)], must_link=[(0, 2)])
    labels = result.labels.tolist()
    assert labels[3] != labels[4]
    assert labels[0] != labels[1]
    assert labels[0] == labels[2]


def test_the_explanation_adds_up_to_the_pairs_weight() -> None:
    t = people()
    result = resolve(t, PERSON)
    explanation = explain_pair(t, PERSON, result.parameters, 0, 1)
    assert [(name, label) for name, label, _ in explanation.steps] == [
        ("name", "exact"),
        ("birth", "exact"),
        ("phone", "exact"),
    ]
    assert explanation.prior_weight + sum(w for *_, w in explanation.steps) == pytest.approx(
        explanation.weight
    )
    row = int(np.flatnonzero((result.left == 0) & (result.right == 1))[0])
    assert explanation.weight == pytest.approx(result.weights[row], rel=1e-5)


def test_a_name_with_one_character_unknown_or_left_out() -> None:
    name = Comparison("name", "name", (Level("one unknown", "one_unknown"), Level("different", "else")))
    t = table(name=["周磊", "周?", "周＊", "王嘉凯", "王凯", "王嘉嘉凯", "周鹏", "吴?", "王嘉", "王"])
    # 周磊 against 周?, 周＊, 周鹏, 吴?; 王嘉凯 against 王凯, 王嘉嘉凯, 王嘉, 王 (no name of one character)
    left = np.array([0, 0, 0, 0, 3, 3, 3, 3, 1], dtype=np.int64)
    right = np.array([1, 2, 6, 7, 4, 5, 8, 9, 6], dtype=np.int64)
    assert compare(t, name, left, right).tolist() == [0, 0, 1, 1, 0, 0, 0, 1, 0]


def test_settings_round_trip_through_json_and_reject_nonsense() -> None:
    assert MatchSettings.from_json(PERSON.to_json()) == PERSON
    with pytest.raises(InputError, match="review_at <= link_at"):
        MatchSettings(comparisons=PERSON.comparisons, blocking=PERSON.blocking, link_at=0.5, review_at=0.9)
    with pytest.raises(InputError, match="last level must test 'else'"):
        MatchSettings(
            comparisons=(Comparison("x", "x", (Level("exact", "exact"),)),), blocking=PERSON.blocking
        )
    with pytest.raises(InputError, match="unknown steps"):
        MatchSettings(comparisons=PERSON.comparisons, blocking=PERSON.blocking, prepare=("guess",))
    with pytest.raises(InputError, match="needs a threshold"):
        MatchSettings(
            comparisons=(Comparison("x", "x", (Level("close", "jaro_winkler"), Level("no", "else"))),),
            blocking=PERSON.blocking,
        )


def test_a_join_rule_is_vetoed_when_the_rest_of_the_evidence_is_against_it() -> None:
    # 3 and 4 share ID C but differ in name, birth date and phone: a child under a parent's number.
    careful = MatchSettings.from_json(
        {**PERSON.to_json(), "constraints": [{"rule": "join", "field": "id", "veto_below": -5.0}]}
    )
    result = resolve(people(), careful)
    labels = result.labels.tolist()
    assert labels[3] != labels[4]
    assert result.stats["rule_joins_vetoed"] == 1
    row = int(np.flatnonzero((result.left == 3) & (result.right == 4))[0])
    assert result.review[row]  # a steward should look at it


def test_a_model_veto_keeps_a_different_name_apart_whatever_else_agrees() -> None:
    # 0 and 1: different names, same birth date and phone (twins sharing the family phone).
    t = table(
        name=["王伟", "王芳"] + [f"n{i}" for i in range(60)],
        birth=["1980-01-01", "1980-01-01"] + [f"19{i:02d}-02-02" for i in range(60)],
        phone=["139", "139"] + [f"p{i}" for i in range(60)],
        id=[None, None] + [f"id{i}" for i in range(60)],
    )
    lenient = MatchSettings.from_json(
        {**PERSON.to_json(), "blocking": [{"fields": ["phone"]}], "link_at": 0.5, "review_at": 0.2}
    )
    assert resolve(t, lenient).labels[0] == resolve(t, lenient).labels[1]
    strict = MatchSettings.from_json({**lenient.to_json(), "model_vetoes": [["name", "different"]]})
    result = resolve(t, strict)
    assert result.labels[0] != result.labels[1]
    assert result.stats["model_joins_vetoed"] == 1
    assert result.review.tolist() == [True]


def test_the_hubs_settings_survive_a_trip_through_json_text() -> None:
    import orjson

    from hub.resolve.kinds import SETTINGS

    for settings in SETTINGS.values():
        assert MatchSettings.from_json(orjson.loads(orjson.dumps(settings.to_json()))) == settings
