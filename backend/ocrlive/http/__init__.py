"""The HTTP side: routes, uploads, authentication, the page shell, error middleware."""
