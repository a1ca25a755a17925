"""Docker token authentication: the token server and the registry's enforcement of its tokens.

    docker ──GET /v2/──────────────▶ guard.py      401 + WWW-Authenticate: Bearer realm,service,scope
           ──GET|POST /token──────▶ handlers.py   Basic / password / refresh_token grant
                                      service.py   login (throttle.py), grant = requested ∩ allowed
                                                   (accounts' policy), issue (tokens.py, keys.py)
           ──/v2/... + Bearer─────▶ guard.py      verify (cached), needed action by route,
                                                   pull rate limits (ratelimit.py), audit of
                                                   pushes and deletes; puts a Caller (the
                                                   registry's protocol, registry/caller.py) in
                                                   the scope for catalog and mount filtering

    keys.py       the ES256 signing key, made at first start in <data_dir>/auth/
    scopes.py     the scope grammar
    tokens.py     access and refresh JWTs, verification, the verified-token cache

The composition root (``dockyard/services.py``) builds the one AuthService from Settings.

The access policy itself (who may pull, push, delete what) belongs to ``dockyard.accounts``.
"""
