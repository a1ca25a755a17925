"""The pages' route table. Repository names may hold slashes, so they match as paths and the
more specific routes (…/tags, …/settings) come before the repository page itself; official
images answer at /_/<name> as well as /r/library/<name>."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dockyard.web.pages import accounts, builds, collaborators, explore, orgs, repositories, settings
from dockyard.web.templating import STATIC

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


def _repository_routes(prefix: str) -> list[Route]:
    name = f"{prefix}/{{name:path}}"
    return [
        Route(f"{name}/tags", repositories.tags, methods=GET),
        Route(f"{name}/tags/{{tag}}/delete", repositories.delete_tag, methods=POST),
        Route(f"{name}/star", repositories.star, methods=POST),
        Route(f"{name}/builds", builds.history, methods=GET),
        Route(f"{name}/builds/trigger", builds.build_now, methods=POST),
        Route(f"{name}/builds/badge.svg", builds.badge, methods=GET),
        Route(f"{name}/builds/{{build_id:int}}", builds.build, methods=GET),
        Route(f"{name}/builds/{{build_id:int}}/stream", builds.stream, methods=GET),
        Route(f"{name}/builds/{{build_id:int}}/cancel", builds.cancel, methods=POST),
        Route(f"{name}/builds/{{build_id:int}}/retry", builds.retry, methods=POST),
        Route(f"{name}/settings/builds", builds.save_link, methods=POST),
        Route(f"{name}/settings/builds/delete", builds.remove_link, methods=POST),
        Route(f"{name}/settings", settings.settings, methods=GET),
        Route(f"{name}/settings/description", settings.save_description, methods=POST),
        Route(f"{name}/settings/visibility", settings.save_visibility, methods=POST),
        Route(f"{name}/settings/permissions", settings.save_permission, methods=POST),
        Route(f"{name}/settings/collaborators", collaborators.save, methods=POST),
        Route(f"{name}/settings/collaborators/{{username}}/remove", collaborators.remove, methods=POST),
        Route(f"{name}/settings/webhooks", settings.add_webhook, methods=POST),
        Route(f"{name}/settings/webhooks/{{hook_id:int}}/delete", settings.remove_webhook, methods=POST),
        Route(f"{name}/settings/delete", settings.delete_repository, methods=POST),
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


def page_routes() -> list[BaseRoute]:
    return [
        Route("/", explore.home, methods=GET),
        Route("/explore", explore.explore, methods=GET),
        Route("/search", explore.search, methods=GET),
        Route("/signup", accounts.signup, methods=BOTH),
        Route("/login", accounts.login, methods=BOTH),
        Route("/logout", accounts.logout, methods=POST),
        Route("/settings/tokens", accounts.tokens, methods=GET),
        Route("/settings/tokens", accounts.create_token, methods=POST),
        Route("/settings/tokens/{token_id:int}/revoke", accounts.revoke_token, methods=POST),
        Route("/repository/create", repositories.create, methods=BOTH),
        Route("/u/{namespace}", explore.namespace, methods=GET),
        *_org_routes(),
        *_repository_routes("/r"),
        *_repository_routes("/_"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
