"""Every table of the hub's relational domain, area by area, on :class:`cloud.database.Base`.

SQLAlchemy registers a table when its model class is defined, so the
complete metadata exists only once every area's ``models`` module is
imported. This module is where that happens, explicitly and once: the
migrations (``cloud/migrations/env.py``) and the test that compares the
migrated schema with the models read :data:`METADATA` from here, and no
other module imports models for their side effect.

Examples
--------
>>> {"sites", "users", "challenges", "ledger", "skill_levels"} <= set(METADATA.tables)
True
"""

from __future__ import annotations

from cloud.accounts import models as accounts
from cloud.challenges import models as challenges
from cloud.credentials import models as credentials
from cloud.database import Base
from cloud.onboarding import models as onboarding
from cloud.governance import models as governance
from cloud.handover import models as handover
from cloud.kpis import models as kpis
from cloud.learnflow import models as learnflow
from cloud.sites import models as sites
from cloud.skills import models as skills

#: The model modules of each area, lowest area first.
AREAS = {"sites": sites, "accounts": accounts, "challenges": challenges, "skills": skills,
         "credentials": credentials, "onboarding": onboarding, "handover": handover, "learnflow": learnflow,
         "kpis": kpis, "governance": governance}
METADATA = Base.metadata
