"""The billing formulas of LANDSCAPE §5, in exact decimal arithmetic.

The billing engine and the reconciliation must agree to the cent, so amounts are computed the
way the rules state them: exact products, rounded half-up to cents at the end of each formula.

A few shipments would land exactly on a half cent, where a checker that computes in binary
floating point could round the other way. The simulator steers around those cases (it lengthens a
route by 10 m, or a dwell by a second); :func:`on_half_cent` is the test it uses.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)
_HOUR = Decimal(3600)
_MILLI = Decimal("0.001")


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def on_half_cent(value: Decimal) -> bool:
    return (value * _HUNDRED) % 1 == Decimal("0.5")


def base_exact(contract, distance_km: Decimal) -> Decimal:
    return max(contract.min_charge, contract.rate_per_km * distance_km)


def base_amount(contract, distance_km: Decimal) -> Decimal:
    """BASE = max(min_charge, rate_per_km x distance_km)."""
    return to_cents(base_exact(contract, distance_km))


def fuel_exact(contract, base: Decimal) -> Decimal:
    return base * contract.fuel_surcharge_pct / _HUNDRED


def fuel_amount(contract, base: Decimal) -> Decimal:
    """FUEL = rounded BASE x fuel_surcharge_pct / 100."""
    return to_cents(fuel_exact(contract, base))


def has_half_cent(contract, distance_km: Decimal) -> bool:
    """Whether BASE or FUEL of this route under this contract sits exactly on a half cent."""
    base = base_exact(contract, distance_km)
    return on_half_cent(base) or on_half_cent(fuel_exact(contract, to_cents(base)))


def detention_excess_seconds(contract, dwell_seconds: int) -> int:
    return max(0, dwell_seconds - contract.detention_free_minutes * 60)


def detention_exact(contract, dwell_seconds: int) -> Decimal:
    return detention_excess_seconds(contract, dwell_seconds) * contract.detention_rate_per_hour / _HOUR


def detention_amount(contract, dwell_seconds: int) -> Decimal:
    """DET = max(0, dwell - free minutes) / 60 x rate per hour (0 when the dwell is within the free time)."""
    return to_cents(detention_exact(contract, dwell_seconds))


def detention_hours(contract, dwell_seconds: int) -> Decimal:
    """The billed quantity of a DET line: hours beyond the free time, to the thousandth."""
    return (Decimal(detention_excess_seconds(contract, dwell_seconds)) / _HOUR).quantize(_MILLI, ROUND_HALF_UP)


def accessorial_amount(contract, code: str, quantity: int) -> Decimal | None:
    """quantity x accessorial_rates[code]; None when the contract has no rate for the code."""
    rate = contract.accessorial_rates.get(code)
    return None if rate is None else to_cents(rate * quantity)
