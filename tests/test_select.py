from streamthumb.config import SelectConfig
from streamthumb.record import Candidate
from streamthumb.select import GreedySelector as TopKPool


def item(t: float, score: float, shot: int = 0) -> Candidate:
    cand = Candidate(index=round(t * 25), t=t, shot=shot, origin="uniform")
    cand.score = score
    return cand


def test_min_gap_and_one_per_shot():
    pool = TopKPool(SelectConfig(k=3))
    for it in [item(10.0, 0.9, 1), item(10.5, 0.89, 1), item(14.0, 0.8, 1), item(20, 0.7, 2), item(30, 0.6, 3)]:
        pool.offer(it)
    assert [p.t for p in pool.choose(num_shots=4)] == [10.0, 20, 30]


def test_fewer_shots_than_k_allows_several_picks_per_shot_but_keeps_the_gap():
    pool = TopKPool(SelectConfig(k=3))
    for it in [item(1.0, 0.9), item(1.5, 0.85), item(4.0, 0.8), item(7.0, 0.7)]:
        pool.offer(it)
    assert [p.t for p in pool.choose(num_shots=1)] == [1.0, 4.0, 7.0]


def test_pool_stays_bounded_and_keeps_diverse_winners():
    cfg = SelectConfig(k=3)
    pool = TopKPool(cfg)
    for i in range(1000):
        shot = i // 10
        pool.offer(item(i * 0.5, score=(i % 97) / 97, shot=shot))
        assert len(pool) <= cfg.capacity
    chosen = pool.choose(num_shots=100)
    assert len(chosen) == 3
    assert len({c.shot for c in chosen}) == 3
    assert min(c.score for c in chosen) > 0.9  # the best scores survived eviction


def test_eviction_prefers_dominated_candidates():
    pool = TopKPool(SelectConfig(k=1, pool_size=2))
    pool.offer(item(0.0, 0.9, shot=0))
    pool.offer(item(0.5, 0.8, shot=0))  # can never beat 0.9: same shot, inside the gap
    pool.offer(item(9.0, 0.1, shot=1))
    assert sorted(p.t for p in pool.items) == [0.0, 9.0]


def test_every_candidate_that_loses_says_to_whom():
    pool = TopKPool(SelectConfig(k=2, pool_size=3))
    items = [item(0.0, 0.9, 0), item(0.5, 0.8, 0), item(5.0, 0.7, 1), item(9.0, 0.6, 2), item(12.0, 0.5, 3)]
    dropped = [d for it in items for d in pool.offer(it)]
    chosen = pool.choose(num_shots=4)
    assert [c.t for c in chosen] == [0.0, 5.0] and [c.rank for c in chosen] == [1, 2]
    assert all(c.fate == "picked" for c in chosen)
    assert {d.t for d in dropped} == {0.5, 12.0} and all(d.fate == "evicted" for d in dropped)
    assert "same shot as the better t=0.000" in items[1].fate_detail
    assert items[3].fate == "below_top_k"


def test_a_conflict_with_a_pick_is_outranked_by_that_pick():
    pool = TopKPool(SelectConfig(k=3))
    a, b, c = item(1.0, 0.9, 0), item(2.0, 0.8, 1), item(8.0, 0.7, 2)
    for it in (a, b, c):
        pool.offer(it)
    assert [p.t for p in pool.choose(num_shots=3)] == [1.0, 8.0]
    assert (
        b.fate == "outranked" and b.fate_detail.endswith("pick 1") and "1.00 s from the better t=1.000" in b.fate_detail
    )
