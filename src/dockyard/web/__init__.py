"""The hub's web front: server-rendered pages (pages/, templates/, static/), browser sessions and
CSRF protection (sessions.py, context.py), wired into the app by ``setup.install`` over the
services of ``dockyard/services.py``; the JSON API lives in ``web.api``. The web layer calls
services (hub, accounts); it never queries the registry."""
