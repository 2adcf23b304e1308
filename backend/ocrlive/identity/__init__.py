"""Identity: people, roles, sessions, API tokens, sign-in; one Principal per request."""
