"""A throwaway PostgreSQL cluster from Debian's binaries, in a temporary folder, on a free port.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user (STACK.md).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile

INSTALL_HINT = ("PostgreSQL is not installed: the PostgreSQL test run needs Debian's server binaries "
                "(apt-get install postgresql).")


def bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return os.path.dirname(found[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = bindir()
        self.dir = tempfile.mkdtemp(prefix="kefu-pg-")
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", self.dir, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "-U", "postgres")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", self.dir, "-o", options, "-l", os.path.join(self.dir, "log"), "-w", "start")
        self._count = 0

    def _run(self, tool, *args):
        command = [os.path.join(self.bin, tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        self._count += 1
        name = f"kefu_test_{self._count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", self.dir, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
