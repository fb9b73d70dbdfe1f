"""Whether the app may read folders on the machine it runs on (the Add-a-model page), and
the command line that does the same import without the app.

Reading a folder named in a web form is safe only when nobody else can reach the form:
the server listens on the loopback address only (`python app.py --server.address
localhost`), or whoever started it said so explicitly (`python app.py
--allow-server-paths`, which sets EXPLORER_ALLOW_SERVER_PATHS=1). A server open to the
network says how to import from the command line instead: a visitor can never make it
read a path. Python files (`file.py:build`) are never loaded from the form, allowed or not.
"""

from __future__ import annotations

import os
import shlex

ENV = "EXPLORER_ALLOW_SERVER_PATHS"
FLAG = "--allow-server-paths"
LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def allowed(bind_address: str | None, env=None) -> tuple[bool, str]:
    """(may the page read server folders, why in a sentence) for a server bound to `bind_address`."""
    env = os.environ if env is None else env
    if env.get(ENV, "") in ("1", "true", "yes"):
        return True, f"This server was started with {FLAG}: the page reads folders on the server."
    if (bind_address or "").strip().lower() in LOOPBACK:
        return True, "This server listens on this machine only (localhost): the page reads folders on it."
    return False, ("This server can be reached from the network, so it does not read folders named in a web "
                   f"page. Import on the server's command line (below), or start the app with {FLAG} (or "
                   "--server.address localhost) if only you can reach it.")


def command(source: str, data: str, name: str, exits: str = "final-head", daisy: bool = False,
            shared_exit: bool = False, epochs: int = 5, limit: int = 0) -> str:
    """The `python -m explorer import` command for these options."""
    parts = [".venv/bin/python", "-m", "explorer", "import", source or "SOURCE", "--data", data or "DATA_FOLDER",
             "--name", name or "NAME", "--exits", exits]
    parts += ["--daisy"] * daisy + ["--shared-exit"] * shared_exit
    parts += ["--epochs", str(epochs)] if exits != "final-head" or daisy or shared_exit else []
    parts += ["--limit", str(limit)] if limit else []
    return " ".join(shlex.quote(p) for p in parts)
