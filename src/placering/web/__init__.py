"""The web interface (issue 18): server-rendered pages in Swedish for handlers and social workers,
reviewers, the register's maintainers and procurement, auditors and admins. Every page calls the
library functions the CLI and the API call, after access.policy.authorize; nothing but parsing,
calling and formatting lives here."""
