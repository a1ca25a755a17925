"""Automated builds: a git push makes Dockyard build the image on a Docker engine and push it.

rules.py     which refs build and under which Docker tags (Docker Hub's build rules)
secrets.py   Fernet encryption of link credentials and secret variables, key in the data dir
models.py    links, rules, builds and their log lines, on the shared metadata
service.py   links and builds as typed records; enqueueing, with the queue limit
triggers.py  GitHub and GitLab push events, signatures, skip markers
queue.py     claiming jobs exactly once under a lease; expired leases retried or failed
runner.py    one build: fetch, hooks, build, tag and push, logs as they arrive; its parts:
  sources.py     the git URLs a build may fetch (no local paths), credentials split off
  gitfetch.py    git on the host, locked down; relay.py its checked git:// and ssh connections
  plan.py        Dockerfile, context and hooks resolved inside the checkout
  dockerfile.py  the images a Dockerfile pulls, ADD URLs
  sandbox.py     each hook in a throw-away container with nothing of the host's
  engine.py      the Docker engine's HTTP API (build, pull, push, containers)
  archive.py     tar streams to the engine and back, .dockerignore
  runtime.py     what they share: StepFailed, the log masker, the registry grant
pushauth.py  the tokens the engine pushes and pulls with, as the linking account
worker.py    the loop that claims and runs jobs (the ``builds`` role: ``serve`` or ``dockyard worker``)
answers.py   the build log as server-sent events and the badge (the endpoints: web/api/builds.py)

The composition root (``dockyard/services.py``) builds these once and hands the queue its event
callback (the hub's build webhooks): builds never imports the hub.
"""
