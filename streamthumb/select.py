"""Keep the best candidates while streaming, then pick top-K under the diversity rules.

A ``Selector`` is offered scored candidates one at a time and chooses the picks at the end.
``GreedySelector`` holds a fixed number of frames however long the video is. When it overflows,
it first drops candidates that can never be picked over a better one nearby (within ``min_gap``
of, or in the same shot as, a higher score), and only then the lowest score. Every candidate it
lets go gets its fate written on its record: evicted (by whom), outranked (by which pick), or
below the top K.

Example:
    >>> selector = GreedySelector(SelectConfig(k=3))
    >>> dropped = selector.offer(candidate)
    >>> best = selector.choose(num_shots=12)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection

from .config import SelectConfig
from .record import Candidate
from .results import Fate

__all__ = ["GreedySelector", "Selector"]


class Selector(ABC):
    """Streams candidates in, picks out; holds a bounded number of frames."""

    @abstractmethod
    def offer(self, cand: Candidate) -> list[Candidate]:
        """Pool a candidate; return those dropped (their fate set) so their frames can go."""

    @abstractmethod
    def choose(self, num_shots: int) -> list[Candidate]:
        """The picks, best first, with rank and fate set on every pooled candidate."""

    @property
    @abstractmethod
    def items(self) -> list[Candidate]:
        """Pooled candidates, best first."""


class GreedySelector(Selector):
    """A bounded pool ranked by ``key``; the final pick is greedy under the time-gap rules.

    Args:
        cfg: k, diversity rules and the pool capacity.
        key: What to rank by; the final score by default (fallbacks rank by sharpness). It may
            be an upper bound while a costly part of the score is still unknown.
        lower: The matching lower bound (``key`` when omitted).
        settle: Makes the bounds of the candidates given meet (runs the costly part); the pool
            calls it only when an eviction depends on it.
    """

    def __init__(
        self,
        cfg: SelectConfig,
        key: Callable[[Candidate], float] = lambda c: c.score,
        *,
        lower: Callable[[Candidate], float] | None = None,
        settle: Callable[[list[Candidate]], None] | None = None,
    ):
        self._cfg = cfg
        self._key = key
        self._lower = lower or key
        self._settle = settle
        self._items: list[Candidate] = []

    def __len__(self) -> int:
        return len(self._items)

    @property
    def capacity(self) -> int:
        """Candidates pooled before an offer evicts one."""
        return self._cfg.capacity

    @property
    def items(self) -> list[Candidate]:
        return sorted(self._items, key=lambda c: -self._key(c))

    def offer(self, cand: Candidate) -> list[Candidate]:
        self._items.append(cand)
        if len(self._items) <= self._cfg.capacity:
            return []
        victim, by = self._settled_victim()
        self._items.remove(victim)
        _lose(victim, "evicted", f"pool full; {_dominated(victim, by) if by else 'lowest score'}")
        return [victim]

    def _settled_victim(self) -> tuple[Candidate, Candidate | None]:
        """The victim, once no unsettled candidate could turn out worse than it."""
        while True:
            victim, by = self._victim()
            bound = self._key(victim)  # the best the victim can turn out
            unsure = [c for c in self._items if c is not victim and self._lower(c) < min(self._key(c), bound)]
            if self._settle is None or not unsure:
                return victim, by
            self._settle([*unsure, victim])

    def _victim(self) -> tuple[Candidate, Candidate | None]:
        ranked = self.items
        for i in range(len(ranked) - 1, 0, -1):
            cand = ranked[i]
            for better in ranked[:i]:
                if self._conflict(cand, better):
                    return cand, better
        return ranked[-1], None

    def _conflict(self, a: Candidate, b: Candidate, *, per_shot: bool = True, relaxed: bool = False) -> bool:
        """Whether ``a`` and ``b`` cannot both be picked.

        With embeddings and ``diversity`` on, content decides: near-duplicates conflict, and so
        do close frames of one shot; different pictures may be close in time or share a shot
        (the diversity term keeps them apart). Without, the time-gap and one-per-shot rules do.
        ``relaxed`` (filling the last places) keeps only the time gap.
        """
        if relaxed:
            return abs(a.t - b.t) < self._cfg.min_gap
        sim = self._similarity(a, b)
        if sim is not None:
            close = a.shot == b.shot and abs(a.t - b.t) < self._cfg.min_gap
            return close or sim >= self._cfg.max_similarity
        if abs(a.t - b.t) < self._cfg.min_gap:
            return True
        return per_shot and self._cfg.one_per_shot and a.shot == b.shot

    def _similarity(self, a: Candidate, b: Candidate) -> float | None:
        """Cosine similarity of the embeddings, when diversity is on and both have one."""
        if self._cfg.diversity <= 0 or a.embedding is None or b.embedding is None:
            return None
        return float(a.embedding @ b.embedding)

    def _relevance(self, cand: Candidate, picked: list[Candidate]) -> float:
        """Maximal marginal relevance: the score less ``diversity`` times the closest pick's similarity."""
        sims = [s for p in picked if (s := self._similarity(cand, p)) is not None]
        return self._key(cand) - self._cfg.diversity * max(sims, default=0.0)

    def choose(self, num_shots: int) -> list[Candidate]:
        """Greedy top-K: best first, skipping conflicts; one per shot only while shots >= k.

        With ``fill``, a second pass keeps only the time gap (one-per-shot and the duplicate
        rule relaxed) when the first left fewer than ``k``: a second frame of a good shot beats
        no frame, and it comes after the distinct pictures.
        """
        picked = self.preview(num_shots)
        for rank, cand in enumerate(picked, start=1):
            cand.decide("picked", rank=rank)
        for cand in self.items:
            if cand.fate != "picked":
                self._explain_loss(cand, picked, per_shot=num_shots >= self._cfg.k)
        return picked

    def preview(self, num_shots: int, *, exclude: Collection[Candidate] = ()) -> list[Candidate]:
        """The picks ``choose`` would make now, best first, writing no fate: a live stream's
        interim result. ``exclude`` leaves candidates out, such as those a final check drops."""
        per_shot = num_shots >= self._cfg.k
        picked = self._greedy([], per_shot=per_shot, exclude=exclude)
        if self._cfg.fill and len(picked) < self._cfg.k:
            picked = self._greedy(picked, per_shot=False, relaxed=True, exclude=exclude)
        return picked

    def _greedy(
        self, picked: list[Candidate], *, per_shot: bool, relaxed: bool = False, exclude: Collection[Candidate] = ()
    ) -> list[Candidate]:
        """Add, one at a time, the free candidate of highest marginal relevance; in score order
        when diversity is off, since then relevance is the score."""
        picked = list(picked)
        items = [c for c in self.items if not any(c is e for e in exclude)]
        while len(picked) < self._cfg.k:
            free = [c for c in items if c not in picked and not self._blocked(c, picked, per_shot, relaxed)]
            if not free:
                break
            picked.append(max(free, key=lambda c: self._relevance(c, picked)))  # the first of equals
        return picked

    def _blocked(self, cand: Candidate, picked: list[Candidate], per_shot: bool, relaxed: bool) -> bool:
        return any(self._conflict(cand, p, per_shot=per_shot, relaxed=relaxed) for p in picked)

    def _explain_loss(self, cand: Candidate, picked: list[Candidate], *, per_shot: bool) -> None:
        twin = next((p for p in picked if (self._similarity(cand, p) or 0.0) >= self._cfg.max_similarity), None)
        if twin is not None:
            _lose(cand, "outranked", f"duplicate of pick {twin.rank} (similarity {self._similarity(cand, twin):.3f})")
            return
        rival = next((p for p in picked if self._conflict(cand, p, per_shot=per_shot)), None)
        if rival is not None:
            _lose(cand, "outranked", f"{_dominated(cand, rival)}, pick {rival.rank}")
        elif len(picked) == self._cfg.k:
            _lose(cand, "below_top_k", f"{len(picked)} better picks were found")
        else:
            _lose(cand, "below_top_k", "kept out by the diversity rules")

    def discard(self, cand: Candidate) -> None:
        """Take a pooled candidate out, such as one a late check rejected."""
        self._items.remove(cand)


def _lose(cand: Candidate, fate: Fate, detail: str) -> None:
    """Write why a candidate lost, unless a filter already rejected it: that stays the reason."""
    if cand.passed:
        cand.decide(fate, detail)


def _dominated(loser: Candidate, winner: Candidate) -> str:
    """Why ``winner`` shuts ``loser`` out, for the report."""
    gap = abs(loser.t - winner.t)
    where = "in the same shot as" if loser.shot == winner.shot else f"{gap:.2f} s from"
    return f"{where} the better t={winner.t:.3f}"
