"""A throwaway PostgreSQL server for tests: ``initdb`` in a temporary folder, then ``pg_ctl``.

::

    with PgServer() as server:
        store = PostgresStore(server.dsn)            # the server's own "skilltroc" database
        other = PostgresStore(server.new_database())  # or a fresh, empty database

The server binaries (``initdb``, ``pg_ctl``, ``postgres``) are looked for in
``$SKILLTROC_PG_BIN``, on ``PATH`` and in the usual install folders
(``/usr/lib/postgresql/<version>/bin`` on Debian and Ubuntu, ``/usr/pgsql-<version>/bin``
on RHEL, ``/usr/local/pgsql/bin``, Homebrew). When they are missing :class:`PgServerError`
is raised: a test suite that needs PostgreSQL must fail, not skip, on a machine without it.

PostgreSQL refuses to run as root. When this process is root, the cluster is created and
run as an unprivileged system user (``$SKILLTROC_PG_USER``, else ``postgres``, which the
Debian package creates; else a ``skilltroc-pg`` system user is created) that owns the
temporary folder. The server listens on ``127.0.0.1`` on a free port and on a Unix socket
in the temporary folder, trusts every local connection and runs without ``fsync``: it is
fast and disposable, never for real data. :meth:`PgServer.stop` stops it and deletes
everything; it also runs at interpreter exit if a test run forgot to.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = ["PgServer", "PgServerError", "find_pg_bin"]

SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    "-c max_connections=200",
    # a deadlock is found after this wait (1 s by default), then a unit is run again
    "-c deadlock_timeout=50ms",
)
_BINARIES = ("initdb", "pg_ctl", "postgres")
_SEARCH_GLOBS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
)
_UNPRIVILEGED_USER = "skilltroc-pg"
INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install -y postgresql; "
    "RHEL: dnf install -y postgresql-server; macOS: brew install postgresql) or set "
    "SKILLTROC_PG_BIN to the folder holding initdb and pg_ctl"
)


class PgServerError(RuntimeError):
    """The throwaway server could not be found, created, started or stopped."""


def _version_key(folder: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", folder)) or (0,)


def _has_binaries(folder: str) -> bool:
    return all(os.access(os.path.join(folder, name), os.X_OK) for name in _BINARIES)


def find_pg_bin() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version first)."""
    candidates: list[str] = []
    explicit = os.environ.get("SKILLTROC_PG_BIN")
    if explicit:
        if not _has_binaries(explicit):
            raise PgServerError(
                f"SKILLTROC_PG_BIN={explicit} does not hold {', '.join(_BINARIES)}"
            )
        return Path(explicit)
    on_path = shutil.which("initdb")
    if on_path:  # Debian puts symlinks on PATH at most: prefer the real folder
        candidates += [os.path.dirname(os.path.realpath(on_path)), os.path.dirname(on_path)]
    for pattern in _SEARCH_GLOBS:
        candidates += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    for folder in candidates:
        if _has_binaries(folder):
            return Path(folder)
    raise PgServerError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH nor in "
        f"{', '.join(_SEARCH_GLOBS)}: {INSTALL_HINT}"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user() -> pwd.struct_passwd:
    """The account the server runs as when this process is root (created if need be)."""
    wanted = os.environ.get("SKILLTROC_PG_USER")
    for name in (wanted,) if wanted else ("postgres", _UNPRIVILEGED_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    if wanted:
        raise PgServerError(f"SKILLTROC_PG_USER={wanted} is not a user of this machine")
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    done = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", _UNPRIVILEGED_USER],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise PgServerError(
            "PostgreSQL cannot run as root and no unprivileged user could be created "
            f"({useradd}: {done.stderr.strip()}); set SKILLTROC_PG_USER to an existing user"
        )
    return pwd.getpwnam(_UNPRIVILEGED_USER)


class PgServer:
    """A disposable PostgreSQL cluster; use it as a context manager or call start/stop."""

    def __init__(
        self,
        *,
        bin_dir: str | os.PathLike[str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        database: str = "skilltroc",
        start_timeout: float = 60.0,
    ) -> None:
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None
        self._base_dir = base_dir
        self.database = database
        self.start_timeout = start_timeout
        self.superuser = "postgres"
        self.host = "127.0.0.1"
        self.port = 0
        self.dsn = ""
        self.folder: Path | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._names = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.folder is not None

    @property
    def data_dir(self) -> Path:
        if self.folder is None:
            raise PgServerError("the server is not started")
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def start(self) -> PgServer:
        """Create the cluster, start it, create :attr:`database`; returns ``self``."""
        if self.folder is not None:
            raise PgServerError("the server is already started")
        bin_dir = self._bin_dir or find_pg_bin()
        if not _has_binaries(str(bin_dir)):
            raise PgServerError(f"{bin_dir} does not hold {', '.join(_BINARIES)}")
        self._bin_dir = bin_dir
        self._run_as = _unprivileged_user() if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="skilltroc-pg-", dir=self._base_dir))
        atexit.register(self.stop)
        try:
            if self._run_as is not None:
                os.chown(self.folder, self._run_as.pw_uid, self._run_as.pw_gid)
            self._initdb()
            self._start_server()
            self.dsn = self.dsn_for(self.database)
            self._create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder; harmless when stopped."""
        folder, self.folder = self.folder, None
        atexit.unregister(self.stop)
        if folder is None:
            return
        data = folder / "data"
        try:
            if (data / "postmaster.pid").exists():
                done = self._run(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "30",
                                  "stop"], check=False)
                if done.returncode != 0:
                    self._kill_postmaster(data)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self.dsn = ""
            self.port = 0

    # ------------------------------------------------------------------ databases
    def dsn_for(self, database: str) -> str:
        """A libpq connection string to ``database`` on this server."""
        if not self.port:
            raise PgServerError("the server is not started")
        return make_conninfo(
            host=self.host, port=self.port, user=self.superuser, dbname=database,
            connect_timeout=10,
        )

    def new_database(self, name: str | None = None) -> str:
        """Create a fresh, empty database (named ``name`` or ``test_<n>``); its DSN."""
        if name is None:
            name = f"test_{os.getpid()}_{next(self._names)}"
        self._create_database(name)
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting anyone still connected to it."""
        with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))

    def _create_database(self, name: str) -> None:
        try:
            with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise PgServerError(f"could not create database {name!r}: {exc}") from exc

    # ------------------------------------------------------------------ internals
    def _run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        assert self._bin_dir is not None
        command = [str(self._bin_dir / argv[0]), *argv[1:]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        user = self._run_as
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=timeout,
                cwd=self.folder, check=False,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PgServerError(f"{shlex.join(command)} failed: {exc}") from exc
        if check and done.returncode != 0:
            raise PgServerError(
                f"{shlex.join(command)} failed ({done.returncode}):\n"
                f"{done.stdout.strip()}\n{done.stderr.strip()}{self._log_tail()}"
            )
        return done

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-20:]
        except (OSError, PgServerError):
            return ""
        return "\nserver log:\n" + "\n".join(lines) if lines else ""

    def _initdb(self) -> None:
        self._run(["initdb", "-D", str(self.data_dir), "-U", self.superuser, "--auth=trust",
                   "-E", "UTF8", "--no-locale", "--no-sync"])

    def _start_server(self) -> None:
        assert self.folder is not None
        for attempt in range(3):  # the free port may be taken between finding and binding
            self.port = _free_port()
            options = " ".join((
                f"-k {shlex.quote(str(self.folder))} -p {self.port} -h {self.host}",
                *SERVER_OPTIONS,
            ))
            done = self._run(
                ["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                 "-t", str(int(self.start_timeout)), "-o", options, "start"],
                check=attempt == 2, timeout=self.start_timeout + 30,
            )
            if done.returncode == 0:
                break
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgServerError(
                        f"PostgreSQL did not accept connections: {exc}{self._log_tail()}"
                    ) from exc
                time.sleep(0.1)

    def _kill_postmaster(self, data: Path) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
