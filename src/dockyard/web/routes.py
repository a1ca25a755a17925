"""The pages' route table. Repository names may hold slashes, so they match as paths and the
more specific routes (…/tags, …/settings) come before the repository page itself; official
images answer at /_/<name> as well as /r/library/<name>."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dockyard.web.pages import (
    account,
    accounts,
    admin,
    builds,
    collaborators,
    explore,
    orgs,
    policies,
    proxies,
    repositories,
    settings,
)
from dockyard.web.templating import STATIC

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


def _settings_routes(name: str) -> list[Route]:
    base, hook = f"{name}/settings", f"{name}/settings/webhooks/{{hook_id:int}}"
    delivery = f"{name}/settings/webhooks/deliveries/{{delivery_id:int}}"
    return [
        Route(f"{base}/builds", builds.save_link, methods=POST),
        Route(f"{base}/builds", settings.builds, methods=GET),
        Route(f"{base}/builds/delete", builds.remove_link, methods=POST),
        Route(base, settings.general, methods=GET),
        Route(f"{base}/collaborators", settings.collaborators, methods=GET),
        Route(f"{base}/webhooks", settings.webhooks, methods=GET),
        Route(f"{base}/danger", settings.danger, methods=GET),
        Route(f"{base}/policies", settings.policies, methods=GET),
        Route(f"{base}/immutable", policies.save_immutable, methods=POST),
        Route(f"{base}/retention", policies.save_retention, methods=POST),
        Route(f"{base}/description", settings.save_description, methods=POST),
        Route(f"{base}/visibility", settings.save_visibility, methods=POST),
        Route(f"{base}/permissions", settings.save_permission, methods=POST),
        Route(f"{base}/collaborators", collaborators.save, methods=POST),
        Route(f"{base}/collaborators/{{username}}/remove", collaborators.remove, methods=POST),
        Route(f"{base}/webhooks", settings.add_webhook, methods=POST),
        Route(f"{hook}/delete", settings.remove_webhook, methods=POST),
        Route(f"{hook}/test", settings.test_webhook, methods=POST),
        Route(delivery, settings.delivery, methods=GET),
        Route(f"{delivery}/redeliver", settings.redeliver, methods=POST),
        Route(f"{base}/delete", settings.delete_repository, methods=POST),
    ]


def _repository_routes(prefix: str) -> list[Route]:
    name = f"{prefix}/{{name:path}}"
    build = f"{name}/builds/{{build_id:int}}"
    return [
        *_settings_routes(name),  # first: …/settings/builds is not the builds of a repository "…/settings"
        Route(f"{name}/tags", repositories.tags, methods=GET),
        Route(f"{name}/tags/delete", repositories.delete_tags, methods=POST),
        Route(f"{name}/tags/{{tag}}/delete", repositories.delete_tag, methods=POST),
        Route(f"{name}/images/{{digest}}", repositories.image, methods=GET),
        Route(f"{name}/readme/edit", repositories.edit_readme, methods=GET),
        Route(f"{name}/readme/preview", repositories.preview_readme, methods=POST),
        Route(f"{name}/readme", repositories.save_readme, methods=POST),
        Route(f"{name}/star", repositories.star, methods=POST),
        Route(f"{name}/builds", builds.history, methods=GET),
        Route(f"{name}/builds/trigger", builds.build_now, methods=POST),
        Route(f"{name}/builds/badge.svg", builds.badge, methods=GET),
        Route(build, builds.build, methods=GET),
        Route(f"{build}/status", builds.status, methods=GET),
        Route(f"{build}/stream", builds.stream, methods=GET),
        Route(f"{build}/cancel", builds.cancel, methods=POST),
        Route(f"{build}/retry", builds.retry, methods=POST),
        Route(name, repositories.repository, methods=GET),
    ]


def _org_routes() -> list[Route]:
    org, team = "/orgs/{org}", "/orgs/{org}/teams/{team}"
    return [
        Route("/orgs", orgs.index, methods=GET),
        Route("/orgs/new", orgs.create, methods=BOTH),
        Route(org, orgs.overview, methods=GET),
        Route(f"{org}/members", orgs.members, methods=GET),
        Route(f"{org}/members", orgs.add_member, methods=POST),
        Route(f"{org}/members/{{username}}/role", orgs.set_role, methods=POST),
        Route(f"{org}/members/{{username}}/remove", orgs.remove_member, methods=POST),
        Route(f"{org}/teams", orgs.teams, methods=GET),
        Route(f"{org}/teams", orgs.create_team, methods=POST),
        Route(team, orgs.team, methods=GET),
        Route(f"{team}/members", orgs.add_team_member, methods=POST),
        Route(f"{team}/members/{{username}}/remove", orgs.remove_team_member, methods=POST),
        Route(f"{team}/permissions", orgs.set_team_permission, methods=POST),
        Route(f"{team}/edit", orgs.edit_team, methods=POST),
        Route(f"{team}/delete", orgs.delete_team, methods=POST),
        Route(f"{org}/settings", orgs.settings, methods=GET),
        Route(f"{org}/settings/visibility", orgs.save_visibility, methods=POST),
        Route(f"{org}/settings/delete", orgs.delete_org, methods=POST),
    ]


def _account_routes() -> list[Route]:
    return [
        Route("/settings", account.settings_index, methods=GET),
        Route("/settings/general", account.general, methods=GET),
        Route("/settings/general", account.save_general, methods=POST),
        Route("/settings/security", account.security, methods=GET),
        Route("/settings/password", account.change_password, methods=POST),
        Route("/settings/delete", account.delete_account, methods=POST),
        Route("/settings/tokens", accounts.tokens, methods=GET),
        Route("/settings/tokens", accounts.create_token, methods=POST),
        Route("/settings/tokens/{token_id:int}/revoke", accounts.revoke_token, methods=POST),
    ]


def _admin_routes() -> list[Route]:
    return [
        Route("/admin", admin.index, methods=GET),
        Route("/admin/users", admin.users, methods=GET),
        Route("/admin/users/{username}/{action}", admin.user_action, methods=POST),
        Route("/admin/audit", admin.audit, methods=GET),
        Route("/admin/storage", admin.storage, methods=GET),
        Route("/admin/proxies", proxies.index, methods=GET),
        Route("/admin/proxies", proxies.add, methods=POST),
        Route("/admin/proxies/{namespace}/limit", proxies.set_limit, methods=POST),
        Route("/admin/proxies/{namespace}/remove", proxies.remove, methods=POST),
        Route("/admin/storage/quota", admin.save_quota, methods=POST),
        Route("/admin/settings", admin.site_settings, methods=GET),
        Route("/admin/settings/signup", admin.save_signup, methods=POST),
    ]


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page links; the pages link the SVG."""
    return FileResponse(STATIC / "favicon.ico", headers={"Cache-Control": "public, max-age=86400"})


def page_routes() -> list[BaseRoute]:
    return [
        Route("/", explore.home, methods=GET),
        Route("/explore", explore.explore, methods=GET),
        Route("/search", explore.search, methods=GET),
        Route("/signup", accounts.signup, methods=BOTH),
        Route("/login", accounts.login, methods=BOTH),
        Route("/logout", accounts.logout, methods=POST),
        Route("/favicon.ico", favicon, methods=GET),
        *_account_routes(),
        *_admin_routes(),
        Route("/repository/create", repositories.create, methods=BOTH),
        Route("/u/{namespace}/starred", account.starred, methods=GET),
        Route("/u/{namespace}/retention", policies.namespace_retention, methods=GET),
        Route("/u/{namespace}/retention", policies.save_namespace_retention, methods=POST),
        Route("/u/{namespace}", explore.namespace, methods=GET),
        *_org_routes(),
        *_repository_routes("/r"),
        *_repository_routes("/_"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
