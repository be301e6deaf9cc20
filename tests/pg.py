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


def scratch_root() -> str | None:
    """Where the tests keep their databases and files: /dev/shm (memory) when there is one, else the
    system's temporary folder. On a virtual disk creating, copying and removing databases is I/O bound
    (measured: a cluster's initdb 5.4 s -> 1.1 s, removing it 3.4 s -> 0.2 s)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, root: str | None = None):
        """root: the folder to make the cluster's folder in (the tests pass scratch_root(); the
        benchmarks keep the system's temporary folder: their millions of rows belong on disk)."""
        self.bin = bindir()
        self.dir = tempfile.mkdtemp(prefix="kefu-pg-", dir=root)
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", self.dir, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "-U", "postgres")
        for attempt in range(3):  # `make test` starts several clusters at once: a port may be taken meanwhile
            self.port = free_port()
            options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c jit=off")
            try:
                self._run("pg_ctl", "-D", self.dir, "-o", options, "-l", os.path.join(self.dir, "log"), "-w",
                          "start")
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
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


# --- copies of a prepared database (tests/conftest.py's templates) ---------------------------------

def _parts(url: str) -> tuple[str, str]:
    """(connection string of the cluster's maintenance database, the url's database name)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return (f"host={parsed.host} port={parsed.port} user={parsed.username} dbname=postgres",
            parsed.database)


def is_empty(url: str) -> bool:
    """Does the database hold no table yet (a database just created)?"""
    import psycopg

    server, name = _parts(url)
    with psycopg.connect(server.replace("dbname=postgres", f"dbname={name}")) as conn:
        return not conn.execute("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname NOT IN "
                                "('pg_catalog', 'information_schema') LIMIT 1").fetchone()


def copy_database(source_url: str, target_url: str) -> None:
    """Make the target database a copy of the source (CREATE DATABASE ... TEMPLATE): no connection
    may be open on either. An existing target is replaced."""
    import psycopg

    server, source = _parts(source_url)
    target = _parts(target_url)[1]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}"')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
