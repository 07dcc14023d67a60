"""Each host's clock offset and drift, estimated from the traffic itself.

Every sample of :mod:`mlops_guard.traces._causality` says ``offset[dst](t) - offset[src](t) <=
recv - send``: a message cannot arrive before it left. With a clock model ``offset[h](t) =
a[h] + b[h] * (t - mid)`` (offset and drift, the reference host fixed at 0), only the samples
on the lower convex hull of each direction's ``(t, recv - send)`` points can bind, so a few
dozen constraints stand for millions of samples (the convex-hull skew estimate of Moon,
Skelly and Towsley, "Estimation and removal of clock skew from network delay measurements",
INFOCOM 1999, with both directions as in NTP).

The estimate is the clock model that leaves the largest minimum delay on every link (the
widest band between the two directions' hulls), a linear programme solved with HiGHS. For
one client/server pair without drift it is NTP's minimum-delay estimate: the midpoint of
``[t3 - t4, t2 - t1]`` of the exchanges with the least delay. The interval is the range of
offsets every sample allows (two more linear programmes per host): it contains the truth
whatever the delays were, because the true clocks satisfy every constraint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_guard.errors import UsageError
from mlops_guard.traces._causality import Samples
from mlops_guard.traces._settings import TraceSettings

__all__ = [
    "ClockEstimate",
    "HostClock",
    "estimate_clocks",
    "min_delay_exchange",
    "ntp_bounds",
    "ntp_exchange",
    "one_way_bounds",
]

_FloatArray = np.ndarray[Any, np.dtype[np.float64]]
# Weight of a two-way link's delay against a one-way link's in the objective: large enough
# that no trade of one for the other pays, small enough for HiGHS's tolerances.
_TWO_WAY_WEIGHT = 1000.0
_TIE_WEIGHT = 1e-3
_MARGIN_US = 0.002


def ntp_exchange(t1: float, t2: float, t3: float, t4: float) -> tuple[float, float]:
    """NTP's offset and round-trip delay of one exchange (RFC 5905 section 8): the request
    leaves at ``t1`` (client clock), arrives at ``t2`` (server clock), the reply leaves at
    ``t3`` and arrives at ``t4``. The offset is the server's clock minus the client's."""
    return ((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2)


def ntp_bounds(t1: float, t2: float, t3: float, t4: float) -> tuple[float, float]:
    """The offsets one exchange allows, whatever the two one-way delays: ``[t3 - t4,
    t2 - t1]`` (its midpoint is :func:`ntp_exchange`'s offset, its width the delay)."""
    return t3 - t4, t2 - t1


def min_delay_exchange(
    t1: Sequence[float], t2: Sequence[float], t3: Sequence[float], t4: Sequence[float]
) -> tuple[float, float]:
    """The offset and delay of the exchange with the least round-trip delay (NTP's clock
    filter: queueing only ever adds delay, so the fastest exchange is the most symmetric)."""
    best = min(range(len(t1)), key=lambda k: (t4[k] - t1[k]) - (t3[k] - t2[k]))
    return ntp_exchange(t1[best], t2[best], t3[best], t4[best])


def one_way_bounds(
    forward_send: Sequence[float],
    forward_recv: Sequence[float],
    backward_send: Sequence[float] = (),
    backward_recv: Sequence[float] = (),
) -> tuple[float, float]:
    """Bounds on host B's offset relative to host A from one-way messages: A -> B messages
    (sent on A's clock, received on B's) bound it from above by their least ``recv - send``,
    B -> A messages from below by their greatest ``send - recv``; ``inf`` where no message
    went that way."""
    upper = min((r - s for s, r in zip(forward_send, forward_recv, strict=True)), default=math.inf)
    lower = max(
        (s - r for s, r in zip(backward_send, backward_recv, strict=True)), default=-math.inf
    )
    return lower, upper


@dataclass(frozen=True)
class HostClock:
    """One host's clock against the reference's, at ``at_unix_nano`` (None: not estimable)."""

    host: str
    offset_ns: float | None  # positive: the host's clock is ahead
    lower_ns: float | None  # None: unbounded that way
    upper_ns: float | None
    drift_ppm: float | None
    at_unix_nano: int
    samples: int
    method: str
    min_delay_ns: float | None  # least one-way delay on the host's links, once corrected

    def offset_at(self, unix_nano: int | float) -> float:
        """The estimated offset (ns) at a time; 0 when nothing could be estimated."""
        if self.offset_ns is None:
            return 0.0
        return self.offset_ns + (self.drift_ppm or 0.0) * 1e-6 * (unix_nano - self.at_unix_nano)

    def to_dict(self) -> dict[str, Any]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value / 1e6, 6)

        return {
            "offset_ms": ms(self.offset_ns),
            "lower_ms": ms(self.lower_ns),
            "upper_ms": ms(self.upper_ns),
            "drift_ppm": None if self.drift_ppm is None else round(self.drift_ppm, 4),
            "at_unix_nano": self.at_unix_nano,
            "samples": self.samples,
            "method": self.method,
            "min_delay_ms": ms(self.min_delay_ns),
        }


@dataclass(frozen=True)
class ClockEstimate:
    reference_host: str
    at_unix_nano: int
    hosts: dict[str, HostClock]


def _lower_hull(tau: _FloatArray, y: _FloatArray) -> np.ndarray[Any, np.dtype[np.intp]]:
    """Indices of the points on the lower convex hull (the only ones a line can touch from
    below), plus the least-delay point."""
    lowest = int(np.argmin(y))
    if len(y) <= 4:
        return np.arange(len(y))
    order = np.lexsort((y, tau))
    tau_sorted, y_sorted = tau[order], y[order]
    # The lowest point at each distinct time: the others can never bind.
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = tau_sorted[1:] != tau_sorted[:-1]
    candidates = order[first]
    if len(candidates) <= 2:
        return np.unique(np.append(candidates, lowest))
    from scipy.spatial import ConvexHull, QhullError

    points = np.column_stack([tau[candidates], y[candidates]])
    try:
        hull = ConvexHull(points, qhull_options="QbB")
    except (QhullError, ValueError):
        # Collinear points: every line through the ends touches them all.
        return np.unique(np.array([candidates[0], candidates[-1], lowest]))
    below = hull.equations[:, 1] < 0
    vertices = np.unique(hull.simplices[below].ravel())
    del tau_sorted, y_sorted
    return np.unique(np.append(candidates[vertices], lowest))


def _pick_reference(
    host_names: Sequence[str],
    traffic: np.ndarray[Any, Any],
    reference: str | None,
    span_counts: Sequence[int] | None,
) -> int | None:
    known = [h for h in range(len(host_names)) if host_names[h]]
    if reference is not None:
        if not reference or reference not in host_names:
            raise UsageError(
                f"--reference {reference!r} is not a host of these spans",
                hint="pick one of " + ", ".join(sorted(h for h in host_names if h)),
            )
        return host_names.index(reference)
    if not known:
        return None
    spans = span_counts if span_counts is not None else [0] * len(host_names)
    return max(known, key=lambda h: (int(traffic[h]), spans[h], host_names[h]))


@dataclass
class _Programme:
    """The linear programme over the hull constraints of every directed host pair.

    Columns: ``a[h], b[h]`` (offset in µs, drift in ppm = µs/s) of each free host, then one
    least-delay variable (µs) per group of links: each link with traffic both ways is a group,
    and so is each ring of one-way links (all of whose links are assumed to share their least
    delay, as NTP assumes both directions do).
    """

    free: list[int]
    column: dict[int, int]
    a_ub: _FloatArray
    b_ub: _FloatArray
    margins: _FloatArray  # per row, how much to keep clear of the bound (see solve)
    weights: _FloatArray  # objective weight of each group's delay
    host_bounds: list[tuple[float | None, float | None]]
    cap: float

    @property
    def n_host_vars(self) -> int:
        return 2 * len(self.free)

    @property
    def n_hard(self) -> int:
        return len(self.b_ub)

    def objective(self) -> _FloatArray:
        objective = np.zeros(self.a_ub.shape[1])
        objective[self.n_host_vars :] = -self.weights
        # Ties (a link's slope that no least delay depends on) go to the clock model closest
        # to every hull point, Moon et al.'s least total slack, weighted far below the
        # delays so it never trades against them.
        if self.n_hard:
            objective -= _TIE_WEIGHT / self.n_hard * self.a_ub.sum(axis=0)
        return objective

    def solve(self) -> tuple[_FloatArray, bool]:
        """The solution, and whether every delay could stay >= 0."""
        from scipy.optimize import linprog

        n_groups = len(self.weights)
        if not self.free:
            return np.zeros(self.a_ub.shape[1]), True
        # Clear of every bound first: by a few nanoseconds (shifts are whole nanoseconds)
        # plus the drift over the sample's delay (a receiving timestamp moves by the offset
        # at its own time, a delay later than the row's time). Then on the bounds; then
        # past them (no clock model is causal).
        attempts = (
            (self.b_ub - self.margins, 0.0, True),
            (self.b_ub, 0.0, True),
            (self.b_ub, -self.cap, False),
        )
        for limits, low, consistent in attempts:
            result = linprog(
                self.objective(),
                A_ub=self.a_ub,
                b_ub=limits,
                bounds=[*self.host_bounds, *[(low, self.cap)] * n_groups],
                method="highs",
            )
            if result.status == 0:
                return np.asarray(result.x), consistent
        return np.zeros(self.a_ub.shape[1]), False

    def interval(self, host: int) -> tuple[float | None, float | None]:
        """The least and greatest offset of ``host`` every sample allows (None: unbounded)."""
        from scipy.optimize import linprog

        hard = self.a_ub[:, : self.n_host_vars]
        found: list[float | None] = []
        for sign in (1.0, -1.0):
            goal = np.zeros(self.n_host_vars)
            goal[self.column[host]] = sign
            result = linprog(
                goal, A_ub=hard, b_ub=self.b_ub, bounds=self.host_bounds, method="highs"
            )
            found.append(sign * float(result.fun) if result.status == 0 else None)
        return found[0], found[1]


def _rings(
    one_way: list[tuple[int, int]], two_way: list[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """For each one-way link (src, dst), the strongly connected component it lies in (links
    with traffic both ways count in both directions), or -1 when it is on no cycle."""
    arrows = [*one_way, *two_way, *((dst, src) for src, dst in two_way)]
    nodes = sorted({h for link in arrows for h in link})
    reach = {h: {h} for h in nodes}
    changed = True
    while changed:  # transitive closure: a handful of hosts, cheap
        changed = False
        for src, dst in arrows:
            before = len(reach[src])
            reach[src] |= reach[dst]
            changed |= len(reach[src]) != before
    component = {h: min(g for g in reach[h] if h in reach[g]) for h in nodes}
    return {
        (src, dst): component[src] if component[src] == component[dst] else -1
        for src, dst in one_way
    }


def _programme(
    rows: list[tuple[int, int, int, _FloatArray, _FloatArray]],
    free: list[int],
    fits_drift: dict[int, bool],
    n_edges: int,
    cap: float,
    settings: TraceSettings,
) -> _Programme:
    column = {h: 2 * k for k, h in enumerate(free)}
    n_host_vars = 2 * len(free)
    directions: dict[int, set[tuple[int, int]]] = {}
    for src, dst, edge, _, _ in rows:
        directions.setdefault(edge, set()).add((src, dst))
    # Links with traffic both ways pin their offset (NTP's midpoint) and come first; the
    # one-way links of a cycle pin their offsets only by assuming their least delays are
    # equal (a cycle's offsets add up to zero, its delays' sum is all that is measured).
    rings = _rings(
        [next(iter(d)) for d in directions.values() if len(d) == 1],
        [min(d) for d in directions.values() if len(d) == 2],
    )
    group_of: dict[int, int] = {}
    weights: list[float] = []
    ring_group: dict[int, int] = {}
    for edge in range(n_edges):
        links = directions[edge]
        if len(links) == 2:
            group_of[edge] = len(weights)
            weights.append(_TWO_WAY_WEIGHT)
            continue
        ring = rings[next(iter(links))]
        if ring >= 0 and ring in ring_group:
            group_of[edge] = ring_group[ring]
            weights[group_of[edge]] += 1.0
            continue
        group_of[edge] = len(weights)
        if ring >= 0:
            ring_group[ring] = group_of[edge]
        weights.append(1.0)
    n_vars = n_host_vars + len(weights)
    blocks: list[_FloatArray] = []
    rhs: list[_FloatArray] = []
    margins: list[_FloatArray] = []
    for src, dst, edge, tau, y in rows:
        drift = settings.max_drift_ppm if fits_drift.get(dst) else 0.0
        margins.append(_MARGIN_US + drift * 1e-6 * np.abs(y))
        block = np.zeros((len(y), n_vars))
        if dst in column:
            block[:, column[dst]] += 1.0
            block[:, column[dst] + 1] += tau
        if src in column:
            block[:, column[src]] -= 1.0
            block[:, column[src] + 1] -= tau
        block[:, n_host_vars + group_of[edge]] = 1.0
        blocks.append(block)
        rhs.append(y)
    host_bounds: list[tuple[float | None, float | None]] = []
    for h in free:
        drift = settings.max_drift_ppm if fits_drift[h] else 0.0
        host_bounds += [(None, None), (-drift, drift)]
    return _Programme(
        free=free,
        column=column,
        a_ub=np.vstack(blocks) if blocks else np.zeros((0, n_vars)),
        b_ub=np.concatenate(rhs) if rhs else np.zeros(0),
        margins=np.concatenate(margins) if margins else np.zeros(0),
        weights=np.asarray(weights, dtype=np.float64),
        host_bounds=host_bounds,
        cap=cap,
    )


def _hull_rows(
    samples: Samples, count: int, tau_all: _FloatArray, y_all: _FloatArray
) -> tuple[list[tuple[int, int, int, _FloatArray, _FloatArray]], int]:
    """Per directed host pair, the samples on its lower hull; and how many host pairs."""
    edges: dict[tuple[int, int], int] = {}
    rows: list[tuple[int, int, int, _FloatArray, _FloatArray]] = []
    if not len(samples):
        return rows, 0
    key = samples.src.astype(np.int64) * count + samples.dst
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.diff(key[order])) + 1
    for group in np.split(order, starts):
        src, dst = int(samples.src[group[0]]), int(samples.dst[group[0]])
        tau, y = tau_all[group], y_all[group]
        keep = _lower_hull(tau, y)
        edge = edges.setdefault((min(src, dst), max(src, dst)), len(edges))
        rows.append((src, dst, edge, tau[keep], y[keep]))
    return rows, len(edges)


def estimate_clocks(
    samples: Samples,
    host_names: Sequence[str],
    *,
    at_unix_nano: int,
    reference: str | None = None,
    span_counts: Sequence[int] | None = None,
    settings: TraceSettings | None = None,
) -> ClockEstimate:
    """Offset (at ``at_unix_nano``), interval and drift of every host against the reference
    (``reference``, else the host in the most samples)."""
    settings = settings or TraceSettings()
    count = len(host_names)
    traffic = np.bincount(samples.src, minlength=count) + np.bincount(samples.dst, minlength=count)
    ref = _pick_reference(host_names, traffic, reference, span_counts)
    if ref is None:
        return ClockEstimate("", at_unix_nano, {})
    tau_all = (samples.send - at_unix_nano).astype(np.float64) / 1e9  # seconds from the middle
    y_all = (samples.recv - samples.send).astype(np.float64) / 1e3  # microseconds
    known = [h for h in range(count) if host_names[h]]
    free = [h for h in known if h != ref and traffic[h] > 0]
    involved = {h: (samples.src == h) | (samples.dst == h) for h in known}
    fits_drift = {}
    for h in free:
        taus = tau_all[involved[h]]
        fits_drift[h] = (
            float(taus.max() - taus.min()) >= settings.min_drift_span_seconds
            and len(taus) >= settings.min_drift_samples
        )
    rows, n_edges = _hull_rows(samples, count, tau_all, y_all)
    cap = float(np.abs(y_all).max()) + 1e6 if len(y_all) else 1e6
    programme = _programme(rows, free, fits_drift, n_edges, cap, settings)
    solution, consistent = programme.solve()
    a = np.zeros(count)
    b = np.zeros(count)
    for h in free:
        a[h], b[h] = solution[programme.column[h]], solution[programme.column[h] + 1]
    intervals = {h: programme.interval(h) if consistent else (None, None) for h in free}
    for h in free:
        lower, upper = intervals[h]
        if (lower is None) != (upper is None):
            a[h], b[h] = _one_sided(h, samples, tau_all, y_all, a, b), 0.0
    # Each sample's delay once both clocks are corrected: the least is the true least delay.
    corrected = (
        y_all - (a[samples.dst] - a[samples.src]) - (b[samples.dst] - b[samples.src]) * tau_all
    )

    hosts: dict[str, HostClock] = {}
    for h in known:
        name, mine = host_names[h], involved[h]
        least = float(corrected[mine].min()) * 1e3 if mine.any() else None
        if h == ref:
            hosts[name] = HostClock(
                name, 0.0, 0.0, 0.0, 0.0, at_unix_nano, int(mine.sum()), "reference", least
            )
        elif h not in programme.column:
            hosts[name] = HostClock(
                name, None, None, None, None, at_unix_nano, 0, "no cross-host traffic", None
            )
        else:
            lower, upper = intervals[h]
            hosts[name] = _host_clock(
                name,
                float(a[h]),
                float(b[h]) if fits_drift[h] else 0.0,
                lower,
                upper,
                at_unix_nano=at_unix_nano,
                samples=int(mine.sum()),
                ntp=samples.ntp[mine],
                fitted_drift=fits_drift[h],
                consistent=consistent,
                least=least,
            )
    return ClockEstimate(host_names[ref], at_unix_nano, hosts)


def _one_sided(
    host: int,
    samples: Samples,
    tau: _FloatArray,
    y: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
) -> float:
    """A constant offset for a host bounded on one side only: the least correction (from 0)
    that makes its traffic causal, given the other hosts' estimates."""
    theta = a + 0.0
    theta[host] = 0.0
    slope = b + 0.0
    slope[host] = 0.0
    residual = (
        y
        - (theta[samples.dst] - theta[samples.src])
        - (slope[samples.dst] - slope[samples.src]) * tau
    )
    incoming = samples.dst == host
    outgoing = samples.src == host
    # Inside the bound by a few nanoseconds: shifts are whole nanoseconds, and a corrected
    # delay of exactly zero must not round to a violation.
    # (and by the other clock's drift over the delay, as in the programme's margins).
    clear = residual - _MARGIN_US - np.abs(slope[samples.dst]) * 1e-6 * np.abs(y)
    upper = float(clear[incoming].min()) if incoming.any() else math.inf
    lower = float(-clear[outgoing].min()) if outgoing.any() else -math.inf
    return min(max(0.0, lower), upper)


def _host_clock(
    name: str,
    offset_us: float,
    drift_ppm: float,
    lower: float | None,
    upper: float | None,
    *,
    at_unix_nano: int,
    samples: int,
    ntp: np.ndarray[Any, np.dtype[np.bool_]],
    fitted_drift: bool,
    consistent: bool,
    least: float | None,
) -> HostClock:
    source = "ntp" if ntp.all() else "one-way" if not ntp.any() else "ntp+one-way"
    method = f"{source}/{'hull-lp' if fitted_drift else 'min-delay'}"
    offset: float | None = offset_us
    drift: float | None = drift_ppm
    if not consistent:
        method += " (inconsistent: no clock model keeps every delay >= 0)"
    elif lower is None and upper is None:
        offset, drift, least, method = None, None, None, "not linked to the reference"
    elif lower is None or upper is None:
        drift, least, method = 0.0, None, f"{source}/one-way-bound"
    return HostClock(
        host=name,
        offset_ns=None if offset is None else offset * 1e3,
        lower_ns=None if lower is None else lower * 1e3,
        upper_ns=None if upper is None else upper * 1e3,
        drift_ppm=drift,
        at_unix_nano=at_unix_nano,
        samples=samples,
        method=method,
        min_delay_ns=least,
    )
