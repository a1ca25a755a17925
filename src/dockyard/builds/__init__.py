"""Automated builds: a git push makes Dockyard run ``docker build`` and push the result.

rules.py     which refs build and under which Docker tags (Docker Hub's build rules)
secrets.py   Fernet encryption of link credentials and secret variables, key in the data dir
models.py    links, rules, builds and their log lines, on the shared metadata
service.py   links and builds as typed records; enqueueing, with the queue limit
triggers.py  GitHub and GitLab push events, signatures, skip markers
queue.py     claiming jobs exactly once under a lease; expired leases retried or failed
runner.py    git fetch, docker build, tag and push, logs as they arrive
worker.py    the loop that claims and runs jobs (``dockyard worker`` or inside ``serve``)
routes.py    webhooks, trigger URL, build list, logs (JSON and SSE), badge
setup.py     install(app, ...): the one place the web app is wired to builds
"""
