"""The pull-through cache: proxy namespaces that fetch from upstream registries on a miss.

models.py     proxy_namespaces, proxy_tag_checks
records.py    ProxyConfig, the upstream's answers
store.py      the proxy's own rows (and the namespace each one reserves)
upstream.py   one upstream registry over the outbound guard, with its own auth
flight.py     one upstream download per blob, followed by every client that asks for it
service.py    PullThrough: what the registry calls on a miss in a proxy namespace
"""
