"""Errors of the resilience layer, defined with the rest in ``headwater.errors``."""

from headwater.errors import BulkheadFull, CallTimeout, CircuitOpen

__all__ = ["BulkheadFull", "CallTimeout", "CircuitOpen"]
