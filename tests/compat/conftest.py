"""Starts the real shelfwarden binary for the aioaudiobookshelf compatibility suite."""

import os
import re
import subprocess
import tempfile
import threading

import pytest

BIN = os.environ.get("SHELFWARDEN_BIN", os.path.join(os.path.dirname(__file__), "../../target/debug/shelfwarden"))
ADMIN = ("admin", "compat suite passphrase 1")
LISTENER = ("listener", "another compat passphrase 2")


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHELFWARDEN_") and k not in ("PORT", "HOST")}
    env["SHELFWARDEN_LOG"] = "warn"
    return env


def cli(data, *args, stdin=None):
    return subprocess.run([BIN, "--data", data, *args], input=stdin, text=True, capture_output=True, env=_clean_env(), check=True)


class Server:
    def __init__(self, data, library=None):
        self.data = data
        args = [BIN, "--data", data, "serve", "--port", "0", "--allow-root"]
        if library:
            args += ["--library", library]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_clean_env())
        for line in self.proc.stdout:
            m = re.match(r"Shelfwarden listening on (\S+)", line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("server did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server():
    data = tempfile.mkdtemp(prefix="sw-compat-")
    cli(data, "user", "add", ADMIN[0], "--admin", "--password-stdin", stdin=ADMIN[1] + "\n")
    cli(data, "user", "add", LISTENER[0], "--password-stdin", stdin=LISTENER[1] + "\n")
    library = os.environ.get("SHELFWARDEN_COMPAT_LIBRARY")
    if library is None:
        library = tempfile.mkdtemp(prefix="sw-compat-lib-")
        subprocess.run([BIN, "--data", data, "generate-library", "--books", "12", "--out", library], check=False, env=_clean_env(), capture_output=True)
    s = Server(data, library)
    yield s
    s.stop()
