"""Sign-in: local accounts (argon2), OpenID Connect, the trusted proxy header, API tokens;
sessions in signed cookies with a CSRF token; throttled failed sign-ins (in the database)."""
