"""The hub's JSON API, compatible with what hub-tool and scripts call on Docker Hub, and the v1
endpoints ``docker search`` uses. A FastAPI app (``app.py``) that ``setup.install`` puts in front
of the registry; the OpenAPI document is served at ``/v2/openapi.json``.

    setup.py          wiring: the dispatcher in front of the registry
    app.py            the FastAPI app: routers, error handlers, the OpenAPI document
    deps.py           services, the caller (hub token), page and name parameters
    tokens.py         hub JWTs: the registry's key, an audience of their own
    users.py          /v2/users/login, /v2/auth/token, /v2/user/, profiles
    repositories.py   /v2/repositories/..., POST /v2/namespaces/{ns}/repositories, stars
    tags.py           /v2/repositories/{ns}/{repo}/tags[/{tag}]
    namespaces.py     /v2/namespaces/{ns}/repositories[/{repo}[/tags[/{tag}]]]: today's paths
    orgs.py           /v2/orgs/, /v2/user/orgs/, /v2/orgs/{org}/[settings|members], /v2/invites/bulk
    groups.py         /v2/orgs/{org}/groups/..., /v2/repositories/{ns}/{repo}/groups
    collaborators.py  /v2/repositories/{ns}/{repo}/collaborators[/{username}]
    search.py         /v2/search/repositories, /v1/_ping, /v1/search
    access_tokens.py  /v2/access-tokens (and hub-tool's /v2/api_tokens)
    webhooks.py       /v2/repositories/{ns}/{repo}/webhooks[/{id}[/deliveries]]
    builds.py         /api/build/...: automated builds (hooks, trigger URLs, history, links, badge)
    build_links.py    /api/build/repositories/{name}/link: a repository's source link and rules
    build_access.py   the build endpoints' caller (HTTP Basic through the one login) and rights
    build_schemas.py  the build endpoints' JSON shapes, for the document
    schemas.py        Docker Hub's JSON shapes; present.py turns hub records into them
    org_schemas.py    the same for organisations, groups, collaborators (org_present.py)
    errors.py         errors as one table, ``{"message", "errinfo"}`` (and ``detail``)
    store.py          the two queries the services do not offer yet
"""
