"""A real OpenID Connect provider for the sign-in tests: django-oauth-toolkit in OIDC mode, run
as its own process (its own Django settings and SQLite file), so the app under test talks to
it over HTTP exactly as it would to Keycloak or Authentik. See testing.py to start one."""
