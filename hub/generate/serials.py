"""Serial numbers that look random but never repeat: record keys, doorplate codes, household numbers.

A small Feistel network over the decimal digits: the number is split into a high and a low part and
three rounds mix them with a keyed function. Every round can be undone, so distinct counters give
distinct serials without a set to check, and consecutive counters look unrelated.
"""

from __future__ import annotations

__all__ = ["scramble"]

_ROUNDS = 3


def scramble(number: int, digits: int, salt: int = 0) -> int:
    """Map 0 <= number < 10**digits one-to-one onto the same range, in an order that looks random."""
    high_size, low_size = 10 ** (digits - digits // 2), 10 ** (digits // 2)
    high, low = divmod(number, low_size)
    for round_number in range(_ROUNDS):
        # (high, low) -> (low, high + f(low)): undoable whatever f is; the parts swap sizes each round
        mixed = (low ^ (salt + round_number * 0x9E3779B9)) * 0x45D9F3B
        high, low = low, (high + (mixed ^ (mixed >> 16)) * 0x119DE1F3) % high_size
        high_size, low_size = low_size, high_size
    return high * low_size + low
