"""The CLI as a client in tests: `placering serve`'s application on a loopback port (uvicorn in a
thread) and people who log in to it through `placering login`, each with a config directory of
their own (PLACERING_CONFIG), so their login.json files never meet."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from click.testing import CliRunner

from placering.cli import cli
from server_support import PASSWORD, settings


@contextmanager
def serving(db_url: str) -> Iterator[str]:
    """The application server on 127.0.0.1 (a free port); yields its address."""
    import uvicorn

    from placering.server.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings(db_url)), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def config_env(home: Path) -> dict[str, str | None]:
    """The environment of one person's CLI: their own config file, no database named."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "placering.toml"
    config.touch()
    return {"PLACERING_CONFIG": str(config), "PLACERING_DATABASE_URL": None, "PLACERING_SERVER": None,
            "PLACERING_TOKEN": None, "PLACERING_ACTOR": None}


class Person:
    """Someone with a login on the server, running placering commands through the CLI."""

    def __init__(self, server: str, login: str, home: Path):
        self.server, self.login, self.env = server, login, config_env(home)
        self.home = home
        self.logged_in = False

    def log_in(self, password: str = PASSWORD):
        self.logged_in = True
        return self._invoke("--server", self.server, "login", "--name", self.login, "--password-stdin",
                            input=password + "\n")

    def run(self, *args: str, input: str | None = None):
        """A command as this person, logged in first (once) if not yet."""
        if not self.logged_in:
            r = self.log_in()
            assert r.exit_code == 0, r.output
        return self._invoke(*args, input=input)

    def _invoke(self, *args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), input=input, env=self.env, catch_exceptions=False)
