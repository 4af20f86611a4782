"""KPIs: learning, operational, onboarding and pathway figures computed from what the hub holds.

Definitions are in ``docs/kpis.md``; :mod:`.stats` holds the arithmetic
(rates with Wilson intervals, MTBF/MTTR), :mod:`.learning` and
:mod:`.operations` read the domain, :mod:`.service` assembles a report
per site, pack and cohort over periods with its baseline, and closes a
period into the hash-chained ledger.
"""
