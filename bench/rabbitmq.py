"""RabbitMQ for the Celery benchmarks: Debian's rabbitmq-server, installed if missing, on loopback.

Usage: python bench/rabbitmq.py up|down|status
A private node (name, AMQP port, Erlang distribution and epmd ports, state folder under
STATE_DIR/bench/rabbitmq) that never touches a system RabbitMQ. `up` is idempotent.
Environment: BENCH_AMQP_PORT (default 5673).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.config import load_settings

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RabbitMQ:
    """Where the bench's node lives and listens."""

    home: Path
    port: int

    @property
    def url(self) -> str:
        """The AMQP URL of the node (guest is allowed from loopback)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def pidfile(self) -> Path:
        return self.home / "rabbitmq.pid"

    @property
    def logfile(self) -> Path:
        return self.home / "rabbitmq.out"

    def env(self) -> dict[str, str]:
        """The environment that keeps the node private: its own name, ports and folders."""
        return {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": f"trendbench{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "ERL_EPMD_PORT": str(self.port + 2000),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_PID_FILE": str(self.home / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
        }

    def running_pid(self) -> int | None:
        """The pid `up` recorded, if that process still runs."""
        if not self.pidfile.exists():
            return None
        pid = int(self.pidfile.read_text().strip() or 0)
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, ValueError):
            return None
        return pid

    def answers(self) -> bool:
        """True when an AMQP connection to the node opens."""
        from kombu import Connection

        try:
            with Connection(self.url, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception:  # noqa: BLE001 - refused, reset, handshake cut: all mean "not yet"
            return False
        return True


def node() -> RabbitMQ:
    """The bench's node, from STATE_DIR and BENCH_AMQP_PORT."""
    home = (load_settings().state_dir / "bench" / "rabbitmq").resolve()
    return RabbitMQ(home, int(os.environ.get("BENCH_AMQP_PORT", "5673")))


def install() -> None:
    """apt-get update once, then apt-get install -y rabbitmq-server (as the stack does)."""
    print("rabbitmq: installing rabbitmq-server from Debian's packages", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "rabbitmq-server"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")


def _write_config(rabbit: RabbitMQ) -> None:
    rabbit.home.mkdir(parents=True, exist_ok=True)
    (rabbit.home / "enabled_plugins").write_text("[].\n")
    (rabbit.home / "rabbitmq-env.conf").write_text("")
    (rabbit.home / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{rabbit.port}\n"
        "log.console = false\n"
        "log.file.level = warning\n"
        # a loaded CI machine or laptop must not trip the disk or memory alarms
        "disk_free_limit.absolute = 50MB\n"
        "vm_memory_high_watermark.relative = 0.8\n"
    )


def up(rabbit: RabbitMQ | None = None) -> RabbitMQ:
    """Start the node unless it already answers; install the package first if missing. A
    node already running but slow to answer (a loaded machine) is waited for, not started
    twice."""
    rabbit = rabbit or node()
    if rabbit.answers():
        return rabbit
    if _running(rabbit):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not rabbit.answers():
            if not _running(rabbit) or time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq runs but does not answer (see {rabbit.logfile})")
            time.sleep(0.5)
        return rabbit
    if not SERVER.exists():
        install()
    _write_config(rabbit)
    with rabbit.logfile.open("ab") as log:
        process = subprocess.Popen(
            [str(SERVER)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=rabbit.env(),
            cwd=rabbit.home,
            start_new_session=True,
        )
    rabbit.pidfile.write_text(str(process.pid))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not rabbit.answers():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = rabbit.logfile.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"rabbitmq did not start (see {rabbit.logfile}):\n{tail}")
        time.sleep(0.5)
    return rabbit


def _running(rabbit: RabbitMQ) -> bool:
    """Whether the process `up` started for this node is alive."""
    try:
        os.kill(int(rabbit.pidfile.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def down(rabbit: RabbitMQ | None = None) -> None:
    """Stop the node `up` started (its process group), and its private epmd."""
    rabbit = rabbit or node()
    pid = rabbit.running_pid()
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while rabbit.running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.3)
    rabbit.pidfile.unlink(missing_ok=True)
    epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
    if Path(epmd).exists():
        subprocess.run([epmd, "-kill"], env=rabbit.env(), capture_output=True, check=False)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str]) -> int:
    """up, down or status."""
    command = argv[0] if argv else "status"
    rabbit = node()
    if command == "up":
        started = time.monotonic()
        up(rabbit)
        print(f"rabbitmq: up at {rabbit.url} ({time.monotonic() - started:.1f}s)")
    elif command == "down":
        down(rabbit)
        print("rabbitmq: down")
    else:
        state = "up" if _port_open(rabbit.port) and rabbit.answers() else "down"
        print(f"rabbitmq: {state} at {rabbit.url}")
        return 0 if state == "up" else 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
