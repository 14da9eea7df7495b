"""The application server (`placering serve`): the JSON API under /api/v1 and the web pages.

On a shared installation it is the only writer: people sign in (OpenID Connect, a trusted
proxy header, or a local account), and every change goes through the same library functions
as the CLI's, as the signed-in person (access/acting.py), after access/policy.authorize.
"""
