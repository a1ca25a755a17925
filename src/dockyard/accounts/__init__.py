"""Accounts domain: users, organisations, teams, repositories' visibility, access tokens, the audit log.

``AccountService`` (service.py) is the only entry point, composed from one module per domain
(users, authentication, organizations, repositories, access, tokens, audit); it returns the typed
records of records.py and raises the errors of errors.py. The access policy lives in policy.py as
pure functions.
"""
