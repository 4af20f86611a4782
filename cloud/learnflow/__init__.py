"""Learning in the flow of work: the unit that matches a live alert or drift event, offered beside it.

:mod:`.service` finds the event in the telemetry store, reads its tags,
picks the unit (:mod:`labs.skills.units`), records the offer, the open
and the follow-up self-assessment; :func:`.service.figures` measures it
(offered, opened, completed, later verified skill change) for the KPIs.
"""
