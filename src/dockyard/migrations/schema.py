"""Every table of every package on one MetaData: what Alembic compares the database with, and the
test that models and migrations agree. Importing a package's models registers its tables."""

from __future__ import annotations

from dockyard.builds import models as _build_models  # noqa: F401  (registers the builds' tables)
from dockyard.db.models import Base
from dockyard.events import models as _event_models  # noqa: F401  (registers the outbox)
from dockyard.hub import models as _hub_models  # noqa: F401  (registers the hub's tables)
from dockyard.hub import retention as _retention  # noqa: F401  (retention policies)
from dockyard.proxy import models as _proxy_models  # noqa: F401  (registers the proxy's tables)
from dockyard.registry import models as _registry_models  # noqa: F401  (gc runs, tag rules, quotas)
from dockyard.registry import tombstones as _tombstones  # noqa: F401  (deleted repositories)
from dockyard.web import models as _web_models  # noqa: F401  (registers the web sessions)

METADATA = Base.metadata
