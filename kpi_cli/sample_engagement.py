"""The sample company's engagement and how it leads churn: the one real influencer of the demo.

Each account has an engagement level; each month the product has a company-wide "health" (a
seeded, mean-reverting walk: a bad month is a buggy release of reports, say). Together they set the
account's key actions (``Report Created``, ``Export Downloaded``) per active user in month m, and
the account's chance of cancelling in month m + 1: few key actions this month, more churn next
month, for one account and for the company. Logins, session minutes and DAU/MAU do not read the
health, so ``kpi tree customer_churn_rate`` finds one lagged relationship and three honest nulls.

Standard library only, like the rest of the generator.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

from kpi_cli.sample_common import Account, month_of

KEY_ACTIONS = ("Report Created", "Export Downloaded")  # [events] key_actions of the sample's kpi.toml
KEY_MIX = (65, 35)  # Report Created : Export Downloaded
KEY_BASE = 1.6  # key actions per active user-month of a median account in a median month
LEVEL_SD = 0.4  # log-sd of accounts' engagement levels (fixed per account)
NOISE_SD = 0.2  # log-sd of an account's month-to-month wobble around its level
USER_SD = 0.3  # log-sd of one user's key actions around the account's rate in a month
HEALTH_PHI, HEALTH_SD, HEALTH_CAP = 0.5, 0.32, 0.55  # AR(1) of the log health, clipped to ±cap
GAMMA = 2.0  # churn hazard ∝ (key actions per user in P − 1)^-GAMMA: a 10% drop, ~23% more churn
# E[x^-GAMMA] of a log-normal x with log-sd s is exp(GAMMA² s² / 2): dividing by it keeps the
# segments' average hazards (CHURN in kpi_cli.sample) what they say, whatever the spread.
NORM = math.exp(GAMMA**2 * (LEVEL_SD**2 + NOISE_SD**2) / 2)


def health(rng: random.Random, months: int = 24) -> list[float]:
    """Company-wide multiplier of key actions per user, one per month (about 0.6 .. 1.7).

    >>> len(health(random.Random(1)))
    24
    """
    s, out = 0.0, []
    for _ in range(months):
        s = max(-HEALTH_CAP, min(HEALTH_CAP, HEALTH_PHI * s + rng.gauss(0, HEALTH_SD)))
        out.append(math.exp(s))
    return out


def assign(rng: random.Random, accounts: list[Account], months: int = 24) -> None:
    """Give every account its expected key actions per active user, month by month (``key_rate``).

    The health is drawn first from the same stream, so it does not depend on how many accounts there
    are. Its geometric mean over the months is divided out: the health moves churn up and down
    around the segments' hazards without shifting their level.
    """
    h = health(rng, months)
    centre = math.exp(sum(math.log(x) for x in h) / months)
    for acc in accounts:
        level = math.exp(rng.gauss(0, LEVEL_SD))
        acc.key_rate = [KEY_BASE * level * h[m] / centre * math.exp(rng.gauss(0, NOISE_SD)) for m in range(months)]


def churn_factor(acc: Account, t: datetime) -> float:
    """How much more (> 1) or less likely than its segment ``acc`` is to end a subscription at ``t``.

    Reads the account's key actions per user in the month before ``t``'s (the first month for
    January 2023), relative to the median: an account at half the median churns 4 times as often.

    >>> from datetime import UTC
    >>> a = Account("cus_1", datetime(2023, 1, 1, tzinfo=UTC), True, "smb", "USD", "US", "", "")
    >>> a.key_rate = [KEY_BASE] * 3 + [KEY_BASE / 2] + [KEY_BASE] * 20
    >>> round(churn_factor(a, datetime(2023, 5, 9, tzinfo=UTC)) / churn_factor(a, datetime(2023, 4, 9, tzinfo=UTC)), 2)
    4.0
    """
    m = min(max(month_of(t) - 1, 0), len(acc.key_rate) - 1)
    return min(4.0, (acc.key_rate[m] / KEY_BASE) ** -GAMMA / NORM)


def key_count(rng: random.Random, rate: float) -> int:
    """One active user's key actions in a month around ``rate``: a user-level wobble (log-sd
    ``USER_SD``), then stochastic rounding, so the count tracks the account's engagement closely
    (a Poisson draw would bury it in noise at two or three actions a month).

    >>> key_count(random.Random(3), 0.0)
    0
    >>> sum(key_count(random.Random(i), 2.5) for i in range(2000)) / 2000
    2.5...
    """
    x = rate * math.exp(rng.gauss(0, USER_SD) - USER_SD**2 / 2)  # mean-preserving
    return int(x) + (rng.random() < x - int(x))
