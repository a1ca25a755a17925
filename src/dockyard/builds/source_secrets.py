"""Credentials never travel inside a source URL.

A link's URL is shown to everyone who may read the repository (its builds page, the link API,
build logs), so ``https://user:token@host/app.git`` would publish the token. Such URLs are refused
when a link is saved, with a message that says where credentials go instead: the link's username
and password (or deploy key) fields, which are stored encrypted and shown nowhere. Links saved
before this rule are shown through ``public_url``, which drops what could be secret.

    https://user:token@host/x.git   refused (any user info: a token is often sent as the user)
    https://host/x.git?token=...    refused (git URLs have no query or fragment)
    ssh://git@host/x.git            fine: an ssh user name is not a secret
    ssh://git:secret@host/x.git     refused
    git@host:team/x.git             fine (scp-like)
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from dockyard.builds.errors import InvalidRequest

WHERE_CREDENTIALS_GO = (
    "credentials do not belong in the source URL, where everyone who can see the repository "
    "would read them: give them in the link's username and password fields instead "
    '(build API: "credentials": {"username": ..., "password": ...}; '
    "CLI: --username with --password-env, or --deploy-key for ssh)"
)
HIDDEN = "********"


def refuse_credentials(url: str) -> None:
    """InvalidRequest when ``url`` carries user info that may be secret, or a query string."""
    if "://" not in url:
        return  # a path, or scp-like user@host:path, whose user is an ssh login name
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidRequest(f"not a URL git can fetch: {public_url(url)!r}") from None
    userinfo, at, _host = parts.netloc.rpartition("@")
    secret_user = at and (parts.scheme.lower() != "ssh" or ":" in userinfo)
    if secret_user or parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidRequest(WHERE_CREDENTIALS_GO)


def public_url(url: str) -> str:
    """``url`` as it may be shown: without a password, a user name over http(s) or a query."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user = userinfo.partition(":")[0]
        keep = parts.scheme.lower() == "ssh" and ":" not in userinfo
        host = f"{user}@{host}" if keep else f"{HIDDEN}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def source_host(url: str) -> str:
    """The host a source is fetched from, for the audit log (which never keeps a whole URL)."""
    if "://" in url:
        try:
            return urlsplit(url).hostname or "?"
        except ValueError:
            return "?"
    user_host, colon, _path = url.partition(":")
    return user_host.rpartition("@")[2] if colon and not url.startswith("/") else "local"


def hide_secrets(text: str, url: str, credentials: dict[str, str]) -> str:
    """An error message about ``url`` with its user info and the link's secrets blanked out."""
    secrets = [value for value in credentials.values() if len(value) >= 3]
    if url != public_url(url):
        secrets.append(url)
        text = text.replace(url, public_url(url))
    try:
        userinfo = urlsplit(url).netloc.rpartition("@")[0] if "://" in url else ""
    except ValueError:
        userinfo = ""
    secrets += [part for part in userinfo.split(":") if len(part) >= 3]
    for value in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return text
