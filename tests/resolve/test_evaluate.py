"""Evaluating a resolution: hand-counted scores, the worst-offender lists, and pairwise scores checked
against brute-force pair enumeration on random clusterings."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.resolve.evaluate import Scores, bcubed, evaluate, format_evaluation, link_scores, pairwise

# Two true entities: A with records a1, a2; B with records b1, b2, b3.
TRUTH = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "b3": "B"}


def test_perfect_clustering_scores_one() -> None:
    predicted = {key: f"c-{entity}" for key, entity in TRUTH.items()}
    assert pairwise(predicted, TRUTH) == Scores(1.0, 1.0, 1.0)
    assert bcubed(predicted, TRUTH) == Scores(1.0, 1.0, 1.0)
    result = evaluate(predicted, TRUTH)
    assert result.false_merges == [] and result.missed_links == []
    assert (result.records, result.predicted_clusters, result.true_clusters) == (5, 2, 2)


def test_everything_merged() -> None:
    predicted = dict.fromkeys(TRUTH, "all")
    # 5 records in one cluster: C(5,2) = 10 predicted pairs; true pairs C(2,2) + C(3,2) = 1 + 3 = 4.
    scores = pairwise(predicted, TRUTH)
    assert scores.precision == pytest.approx(0.4)
    assert scores.recall == 1.0
    assert scores.f1 == pytest.approx(2 * 0.4 / 1.4)
    # B-cubed precision: a-records 2/5 each, b-records 3/5 each → (2·2/5 + 3·3/5) / 5 = 13/25.
    assert bcubed(predicted, TRUTH) == Scores.of(13 / 25, 1.0)


def test_everything_split_into_singletons() -> None:
    predicted = {key: key for key in TRUTH}
    scores = pairwise(predicted, TRUTH)
    assert scores == Scores(precision=1.0, recall=0.0, f1=0.0)
    # B-cubed recall: a-records 1/2 each, b-records 1/3 each → (2·1/2 + 3·1/3) / 5 = 2/5.
    b = bcubed(predicted, TRUTH)
    assert b.precision == 1.0
    assert b.recall == pytest.approx(0.4)
    result = evaluate(predicted, TRUTH)
    assert [link.entity for link in result.missed_links] == ["B", "A"]
    assert [link.missed_pairs for link in result.missed_links] == [3, 1]


def test_bcubed_by_hand() -> None:
    truth = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
    predicted = {"a1": "x", "a2": "x", "b1": "x", "a3": "y", "b2": "y"}
    # Cluster x = {a1, a2, b1}, cluster y = {a3, b2}.
    # Precision per record: a1 2/3, a2 2/3, b1 1/3, a3 1/2, b2 1/2 → sum 8/3 → 8/15.
    # Recall per record:    a1 2/3, a2 2/3, b1 1/2, a3 1/3, b2 1/2 → sum 8/3 → 8/15.
    scores = bcubed(predicted, truth)
    assert scores.precision == pytest.approx(8 / 15)
    assert scores.recall == pytest.approx(8 / 15)
    assert scores.f1 == pytest.approx(8 / 15)
    # Pairwise: predicted pairs 3 + 1 = 4, true pairs 3 + 1 = 4, both in one cluster only (a1, a2) → 1/4.
    assert pairwise(predicted, truth) == Scores.of(0.25, 0.25)


def test_worst_first_and_limited() -> None:
    truth = {
        f"{entity}{i}": entity
        for entity, size in (("A", 4), ("B", 3), ("C", 2), ("D", 2))
        for i in range(size)
    }
    predicted = {
        # Cluster big: A×3 + B×3 → 6·5/2 - 3 - 3 = 9 wrong pairs.
        "A0": "big", "A1": "big", "A2": "big", "B0": "big", "B1": "big", "B2": "big",
        # Cluster small: A×1 + C×2 → 3 - 1 = 2 wrong pairs.
        "A3": "small", "C0": "small", "C1": "small",
        # D is split: D0 alone, D1 alone → 1 missed pair.
        "D0": "d0", "D1": "d1",
    }  # fmt: skip
    result = evaluate(predicted, truth, worst=1)
    assert result.false_merge_count == 2 and result.missed_link_count == 2
    [merge] = result.false_merges
    assert (merge.cluster, merge.size, merge.wrong_pairs) == ("big", 6, 9)
    assert merge.entities == (("A", 3), ("B", 3))
    assert merge.examples == ("A0", "A1", "A2", "B0", "B1")

    full = evaluate(predicted, truth)
    assert [m.cluster for m in full.false_merges] == ["big", "small"]
    assert full.false_merges[1].entities == (("C", 2), ("A", 1))
    assert full.false_merges[1].examples == ("A3", "C0", "C1")
    # A: 4 records in big×3, small×1 → 6 - 3 = 3 missed pairs; D: 1 missed pair.
    assert [(link.entity, link.missed_pairs) for link in full.missed_links] == [("A", 3), ("D", 1)]
    assert full.missed_links[0].clusters == (("big", 3), ("small", 1))


def test_examples_span_every_part() -> None:
    truth = {f"{entity}{i}": entity for entity in "AB" for i in range(10)}
    predicted = dict.fromkeys(truth, "one")
    [merge] = evaluate(predicted, truth).false_merges
    assert merge.examples == ("A0", "A1", "A2", "B0", "B1")


def test_records_missing_from_one_side_are_ignored() -> None:
    predicted = {**{key: f"c-{entity}" for key, entity in TRUTH.items()}, "extra": "c-A", "x2": "c-B"}
    truth = {**TRUTH, "unseen": "A"}
    assert pairwise(predicted, truth) == Scores(1.0, 1.0, 1.0)
    assert bcubed(predicted, truth) == Scores(1.0, 1.0, 1.0)
    result = evaluate(predicted, truth)
    assert (result.records, result.only_predicted, result.only_truth) == (5, 2, 1)


def test_nothing_in_common() -> None:
    result = evaluate({"x": 1}, {"y": 1})
    assert result.records == 0
    assert result.pairwise == Scores(1.0, 1.0, 1.0)
    assert result.bcubed == Scores(1.0, 1.0, 1.0)


def test_tuple_keys() -> None:
    truth = {("crm", "person", "1"): "p1", ("tax", "person", "9"): "p1", ("crm", "person", "2"): "p2"}
    predicted = dict.fromkeys(truth, "e1")
    [merge] = evaluate(predicted, truth).false_merges
    assert merge.examples == tuple(sorted(truth))
    text = format_evaluation("tuples", evaluate(predicted, truth))
    assert "crm/person/1" in text and "tax/person/9" in text


def test_format_evaluation() -> None:
    predicted = {"a1": "x", "a2": "x", "b1": "x", "a3": "y", "b2": "y"}
    truth = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "lost": "B"}
    text = format_evaluation("run 7 vs truth", evaluate(predicted, truth))
    lines = text.splitlines()
    assert lines[0] == "run 7 vs truth"
    assert lines[1] == "records 5: 2 predicted clusters, 2 true entities"
    assert "1 only in truth" in text
    pairwise_line = next(line for line in lines if line.startswith("pairwise"))
    assert pairwise_line.split()[1:] == ["0.2500", "0.2500", "0.2500"]
    bcubed_line = next(line for line in lines if line.startswith("B-cubed"))
    assert bcubed_line.split()[1:] == ["0.5333", "0.5333", "0.5333"]
    assert "worst false merges (2 of 2):" in text
    assert "cluster x: 3 records, 2 wrong pairs; entities A×2, B×1; e.g. a1, a2, b1" in text
    assert "worst missed links (2 of 2):" in text
    assert "entity A: 3 records, 2 missed pairs; clusters x×2, y×1; e.g. a1, a2, a3" in text


def _brute_force(predicted: Mapping[int, Hashable], truth: Mapping[int, Hashable]) -> tuple[float, float]:
    keys = sorted(predicted.keys() & truth.keys())
    pairs = list(combinations(keys, 2))
    predicted_pairs = {(a, b) for a, b in pairs if predicted[a] == predicted[b]}
    true_pairs = {(a, b) for a, b in pairs if truth[a] == truth[b]}
    both = len(predicted_pairs & true_pairs)
    return (
        both / len(predicted_pairs) if predicted_pairs else 1.0,
        both / len(true_pairs) if true_pairs else 1.0,
    )


clusterings = st.dictionaries(st.integers(0, 25), st.integers(0, 5), max_size=26)


@given(clusterings, clusterings)
@settings(deadline=None)  # a property of the counts, not of their speed: a loaded machine must not fail it
def test_pairwise_matches_brute_force(predicted: dict[int, int], truth: dict[int, int]) -> None:
    precision, recall = _brute_force(predicted, truth)
    scores = pairwise(predicted, truth)
    assert scores.precision == pytest.approx(precision)
    assert scores.recall == pytest.approx(recall)
    assert scores.f1 == pytest.approx(Scores.of(precision, recall).f1)
    assert 0.0 <= scores.f1 <= 1.0


def test_links_are_scored_per_relation_through_each_entitys_true_id() -> None:
    true_id_of = {"e1": "P1", "e2": "P2", "a1": "A1", "a2": "A2", "x": "A9"}
    predicted = [
        ("lives_at", "e1", "a1"),  # right
        ("lives_at", "e2", "x"),  # wrong place
        ("lives_at", "e3", "a2"),  # an entity the truth does not know: a wrong claim
        ("operates_at", "e1", "a1"),  # no truth for this relation: not scored
    ]
    truth = [("lives_at", "P1", "A1"), ("lives_at", "P2", "A2"), ("lives_at", "P1", "A1")]
    scores = link_scores(predicted, true_id_of, truth)
    assert set(scores) == {"lives_at"}
    assert scores["lives_at"].precision == pytest.approx(1 / 3)
    assert scores["lives_at"].recall == pytest.approx(1 / 2)
