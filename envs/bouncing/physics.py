"""Reference physics for balls in a box: a closed form (walls only) and an event-driven simulator.

Balls are discs with centre (x, y), velocity (vx, vy), radius r and mass m in the box
[0, width] x [0, height]. A ball bounces elastically when its edge touches a wall, so its centre
stays in [r, width - r] x [r, height - r]. With collisions on, two balls that touch exchange
momentum along the line of centres (elastic, masses m). No gravity, no friction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_EVENTS = 200_000


@dataclass
class Ball:
    x: float
    y: float
    vx: float
    vy: float
    r: float
    m: float = 1.0


def _fold(p: float, v: float, r: float, size: float, t: float) -> float:
    """Position on one axis after time t with reflections at r and size - r (mirror trick)."""
    span = size - 2 * r
    u = (p - r + v * t) % (2 * span)
    return r + (2 * span - u if u > span else u)


def closed_form(balls: list[Ball], width: float, height: float, t: float) -> list[tuple]:
    """Positions after ``t`` when balls only bounce off walls (they pass through each other)."""
    return [(_fold(b.x, b.vx, b.r, width, t), _fold(b.y, b.vy, b.r, height, t)) for b in balls]


def _wall_time(p: float, v: float, r: float, size: float) -> float:
    if v > 0:
        return max(0.0, (size - r - p) / v)
    if v < 0:
        return max(0.0, (r - p) / v)
    return math.inf


def _pair_time(a: Ball, b: Ball) -> float:
    """Time until discs a and b touch while approaching (inf if never)."""
    dx, dy, dvx, dvy = b.x - a.x, b.y - a.y, b.vx - a.vx, b.vy - a.vy
    approach = dx * dvx + dy * dvy
    if approach >= 0:
        return math.inf
    vv = dvx * dvx + dvy * dvy
    reach = a.r + b.r
    disc = approach * approach - vv * (dx * dx + dy * dy - reach * reach)
    if disc < 0:
        return math.inf
    return max(0.0, (-approach - math.sqrt(disc)) / vv)


def simulate(
    balls: list[Ball], width: float, height: float, t: float, collisions: bool = True
) -> list[tuple]:
    """Exact event-driven simulation: advance to the next wall or ball contact, resolve, repeat."""
    bs = [Ball(b.x, b.y, b.vx, b.vy, b.r, b.m) for b in balls]
    left = t
    for _ in range(MAX_EVENTS):
        best, event = left, None
        for i, b in enumerate(bs):
            for axis, p, v, size in (("x", b.x, b.vx, width), ("y", b.y, b.vy, height)):
                dt = _wall_time(p, v, b.r, size)
                if dt < best:
                    best, event = dt, ("wall", i, axis)
        if collisions:
            for i in range(len(bs)):
                for j in range(i + 1, len(bs)):
                    dt = _pair_time(bs[i], bs[j])
                    if dt < best:
                        best, event = dt, ("pair", i, j)
        for b in bs:
            b.x += b.vx * best
            b.y += b.vy * best
        left -= best
        if event is None:
            return [(b.x, b.y) for b in bs]
        if event[0] == "wall":
            b = bs[event[1]]
            if event[2] == "x":
                b.vx = -b.vx
            else:
                b.vy = -b.vy
        else:
            _collide(bs[event[1]], bs[event[2]])
    raise RuntimeError(f"more than {MAX_EVENTS} events")


def _collide(a: Ball, b: Ball) -> None:
    """Elastic collision of two touching discs: exchange momentum along the line of centres."""
    dx, dy = b.x - a.x, b.y - a.y
    dist2 = dx * dx + dy * dy
    k = 2 * ((b.vx - a.vx) * dx + (b.vy - a.vy) * dy) / ((a.m + b.m) * dist2)
    a.vx += k * b.m * dx
    a.vy += k * b.m * dy
    b.vx -= k * a.m * dx
    b.vy -= k * a.m * dy
