"""The statistics engine: always-valid intervals, the sample-ratio check and CUPED.

Everything here is a pure function of counts and arrays, vectorised with numpy so the
same code serves one experiment's results and thousands of simulated ones.

**Sequential by default.** A fixed-horizon interval is valid once, at a sample size
fixed in advance; looking every day and stopping at the first "significant" day makes
about one A/A test in five look like a win. The default interval is the mixture
sequential probability ratio test's confidence sequence (Robbins 1970; Johari, Pekelis
and Walsh, "Always valid inference", 2017): with ``V`` the variance of the difference
estimate and ``tau**2`` the variance of the normal mixing prior on the effect,

    half_width = sqrt( V * (V + tau**2) / tau**2 * (2 * ln(1 / alpha) + ln((V + tau**2) / V)) )

covers the true difference at every sample size at once with probability >= 1 - alpha,
so it may be read as often as anyone likes. ``tau`` is set relative to the outcome's
standard deviation (``mixing_ratio``), which makes the interval scale-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from headwater.errors import InvalidInput

Method = Literal["sequential", "fixed"]
FloatArray = npt.NDArray[np.float64]

#: The sample-ratio check alarms below this p-value (a true SRM is a broken
#: experiment, so a strict threshold keeps false alarms near one in a thousand checks).
SRM_P_THRESHOLD: Final = 0.001
DEFAULT_ALPHA: Final = 0.05
#: tau = 0.1 standard deviations: tuned for effects of that order, the usual size of a
#: product change; the interval stays valid for any effect, only its width depends on it.
DEFAULT_MIXING_RATIO: Final = 0.1


def normal_cdf(x: float) -> float:
    """Standard normal CDF, by ``math.erfc`` (exact to double precision; no scipy)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Inverse of :func:`normal_cdf` by bisection on it (only called with a handful of
    alphas, so 80 halvings cost nothing and need no rational approximation)."""
    if not 0.0 < p < 1.0:
        raise InvalidInput("a quantile needs 0 < p < 1")
    low, high = -40.0, 40.0
    for _ in range(80):
        mid = (low + high) / 2
        if normal_cdf(mid) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for a chi-square variable with ``dof`` degrees of freedom.

    Written by hand rather than taking scipy for one function: the regularized upper
    incomplete gamma Q(dof/2, statistic/2), by its series below a + 1 and Lentz's
    continued fraction above (Numerical Recipes 6.2), accurate to ~1e-14.
    """
    if dof < 1:
        raise InvalidInput("chi-square needs at least one degree of freedom")
    if statistic <= 0:
        return 1.0
    a, x = dof / 2.0, statistic / 2.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


@dataclass(frozen=True, slots=True)
class SampleRatio:
    statistic: float
    p_value: float
    mismatch: bool
    observed: tuple[int, ...]
    expected: tuple[float, ...]


def sample_ratio_check(
    observed: list[int] | tuple[int, ...],
    weights: list[float] | tuple[float, ...],
    threshold: float = SRM_P_THRESHOLD,
) -> SampleRatio:
    """Pearson's chi-square goodness of fit of exposures per variant to the weights."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise InvalidInput("the sample-ratio check needs one count per variant, two or more")
    total = sum(observed)
    weight_sum = float(sum(weights))
    expected = tuple(total * w / weight_sum for w in weights)
    if total == 0:
        return SampleRatio(0.0, 1.0, False, tuple(observed), expected)
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True) if e > 0)
    p_value = chi_square_sf(statistic, len(observed) - 1)
    return SampleRatio(statistic, p_value, p_value < threshold, tuple(observed), expected)


def half_width(
    variance: FloatArray | float,
    outcome_variance: FloatArray | float,
    *,
    alpha: float = DEFAULT_ALPHA,
    method: Method = "sequential",
    mixing_ratio: float = DEFAULT_MIXING_RATIO,
) -> FloatArray:
    """Half-width of the interval for a difference whose estimate has ``variance``.

    ``outcome_variance`` is the per-subject variance of the outcome, which sets the
    mixing prior's scale (tau**2 = mixing_ratio**2 * outcome_variance). Vectorised.
    """
    v = np.asarray(variance, dtype=np.float64)
    if method == "fixed":
        return np.asarray(normal_quantile(1 - alpha / 2) * np.sqrt(v), dtype=np.float64)
    tau2 = np.maximum(mixing_ratio**2 * np.asarray(outcome_variance, dtype=np.float64), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((v + tau2) / v)))
    # No variance yet (no subjects, or all outcomes equal): the interval is unbounded.
    return np.asarray(np.where(v > 0, width, np.inf), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Interval:
    """Treatment minus control, with its interval; ``significant`` when 0 lies outside."""

    difference: float
    low: float
    high: float
    relative: float | None
    method: Method

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def difference_interval(
    mean_control: float,
    var_control: float,
    n_control: int,
    mean_treatment: float,
    var_treatment: float,
    n_treatment: int,
    *,
    alpha: float = DEFAULT_ALPHA,
    method: Method = "sequential",
) -> Interval:
    """The interval of ``mean_treatment - mean_control`` (sample variances given)."""
    difference = mean_treatment - mean_control
    if n_control < 2 or n_treatment < 2:
        return Interval(difference, -math.inf, math.inf, None, method)
    variance = var_control / n_control + var_treatment / n_treatment
    pooled = (var_control + var_treatment) / 2
    width = float(half_width(variance, pooled, alpha=alpha, method=method))
    relative = difference / mean_control if mean_control else None
    return Interval(difference, difference - width, difference + width, relative, method)


def cuped_adjust(outcome: FloatArray, covariate: FloatArray) -> tuple[FloatArray, float]:
    """CUPED (Deng et al. 2013): ``y - theta * (x - mean(x))`` with
    ``theta = cov(x, y) / var(x)`` pooled over all arms, so the adjustment is the same
    for every variant and the difference stays unbiased. Returns the adjusted outcomes
    and theta (0 when the covariate does not vary: nothing to adjust by)."""
    y = np.asarray(outcome, dtype=np.float64)
    x = np.asarray(covariate, dtype=np.float64)
    if len(x) < 2:
        return y, 0.0
    var_x = float(np.var(x, ddof=1))
    if var_x <= 0:
        return y, 0.0
    theta = float(np.cov(x, y, ddof=1)[0, 1] / var_x)
    return y - theta * (x - float(np.mean(x))), theta
