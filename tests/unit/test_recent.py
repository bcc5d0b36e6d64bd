"""``Recent``: a value is reused until its time is up, then gone; memory stays bounded."""

from __future__ import annotations

from tether.recent import Recent


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_reused_until_its_ttl_then_gone() -> None:
    clock = _Clock()
    recent: Recent[str, int] = Recent(5.0, clock=clock)
    recent.put("alice", 1)
    clock.now += 4.9
    assert recent.get("alice") == 1
    clock.now += 0.1
    assert recent.get("alice") is None


def test_expired_entries_are_evicted_not_kept_forever() -> None:
    clock = _Clock()
    recent: Recent[str, int] = Recent(5.0, clock=clock)
    for i in range(1000):
        recent.put(f"principal-{i}", i)
    clock.now += 6
    recent.put("latest", 0)
    assert len(recent) == 1


def test_at_most_max_entries_are_kept_least_recently_used_first_out() -> None:
    recent: Recent[str, int] = Recent(60.0, max_entries=3)
    for name in ("a", "b", "c"):
        recent.put(name, 0)
    assert recent.get("a") == 0  # "b" is now the least recently used
    recent.put("d", 0)
    assert len(recent) == 3
    assert recent.get("b") is None
    assert recent.get("a") == 0


def test_a_ttl_of_zero_keeps_nothing() -> None:
    recent: Recent[str, int] = Recent(0.0)
    assert recent.put("alice", 1) == 1
    assert recent.get("alice") is None


def test_forget_drops_one_key_or_all() -> None:
    recent: Recent[str, int] = Recent(60.0)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.forget("a")
    assert (recent.get("a"), recent.get("b")) == (None, 2)
    recent.forget()
    assert len(recent) == 0
