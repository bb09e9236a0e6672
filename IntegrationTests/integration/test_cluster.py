"""Several gravel-gateway nodes behind a consistent-hash router, as the shipped
configurations run them.

Real processes on loopback: every node on its own port (with its own data directory when
the binary has --data-dir), Debian's nginx with deploy/nginx/gravel.conf and Debian's
HAProxy with deploy/haproxy/gravel.cfg (only their server lines point at the test's
ports), and Debian's Prometheus scraping every node through file_sd with the shipped
scrape job (deploy/kubernetes/prometheus/gravel-scrape.yml; its relabelling runs on the
same meta labels Kubernetes discovery would give).

What a user relies on:
- every group lives on exactly one node, the nodes share the groups about evenly, and a
  sum over the nodes in Prometheus is exactly what was pushed;
- a node killed with SIGKILL under load: pushes for its groups go on succeeding through
  the router at once (on the other nodes); only the pushes in flight to it fail; what it
  held comes back when it restarts with its data directory;
- a node added: about a quarter of the groups move, all to the new node; after
  --series-ttl no group is exposed twice;
- a POST that reached a node is never sent to a second one; Authorization and large
  bodies pass.
"""

from __future__ import annotations

import json
import os
import grp
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pytest
import requests
import yaml

from conftest import (
    REPO_ROOT,
    START_TIMEOUT_S,
    Gateway,
    PrometheusServer,
    _ProcessRegistry,
    _http_session,
    _spawn,
    _stop_process,
    _tail,
    _wait_ready,
    free_port,
    gateway_binary,
    parse_scrape,
)

NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "gravel.conf"
HAPROXY_CFG = REPO_ROOT / "deploy" / "haproxy" / "gravel.cfg"
SCRAPE_JOB = REPO_ROOT / "deploy" / "kubernetes" / "prometheus" / "gravel-scrape.yml"
COUNTER = "cluster_pushes_total"
# The routers the tests run: the default (nginx) and the HAProxy alternative.
ROUTER_KINDS = pytest.mark.parametrize("kind", ["nginx", "haproxy"])
# What a client gets for a push that reached a node which died before answering: 502, or
# no answer (status 0 here) from HAProxy when the push went over a reused connection.
PUSH_LOST = (502, 0)
COUNTER_TYPE = f"# TYPE {COUNTER} counter\n"


def group_path(i: int) -> str:
    return f"/metrics/job/cluster/group/g{i:04d}"


def _supports(flag: str) -> bool:
    out = subprocess.run([str(gateway_binary()), "--help"], capture_output=True, text=True, timeout=30)
    return flag in out.stdout + out.stderr


# --------------------------------------------------------------------------
# Nodes, router, Prometheus
# --------------------------------------------------------------------------

@dataclass
class Node:
    """One gravel-gateway of the cluster; `name` is what a StatefulSet would call it."""
    name: str
    port: int
    data_dir: Path | None
    gateway: Gateway

    @property
    def url(self) -> str:
        return self.gateway.url

    def groups(self) -> dict[str, float]:
        """{group: value of the test counter} on this node."""
        out = {}
        for (name, labels), value in parse_scrape(self.gateway.scrape_text(), drop_self=False).items():
            if name == COUNTER:
                out[dict(labels)["group"]] = value
        return out


class Router:
    """A router process started with a shipped configuration whose server lines point at
    the test's nodes (their parameters kept) and which listens on a free loopback port.
    Subclasses say how to rewrite the file and run the program."""

    name = ""
    shipped: Path

    def __init__(self, workdir: Path, registry: _ProcessRegistry):
        self.workdir = workdir
        self.prefix = workdir / "prefix"
        self.prefix.mkdir(parents=True)
        self.conf = workdir / self.shipped.name
        self.log_path = workdir / f"{self.name}.log"
        self.registry = registry
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def render(self, ports: Iterable[int]) -> str:
        raise NotImplementedError

    def args(self) -> list[str]:
        raise NotImplementedError

    def check_args(self) -> list[str]:
        raise NotImplementedError

    reload_signal = signal.SIGHUP

    def start(self, ports: Iterable[int]) -> "Router":
        """Starts the router in front of nodes on these ports, in this order."""
        if shutil.which(self.args()[0]) is None:
            pytest.fail(f"{self.args()[0]} not found: run scripts/setup.sh test", pytrace=False)
        self.conf.write_text(self.render(ports))
        check = subprocess.run(self.check_args(), capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"{self.name} refused the configuration:\n{check.stdout}{check.stderr}\n{self.conf.read_text()}"
        self.proc = _spawn(self.args(), self.log_path, self.workdir)
        self.registry.add_log(f"{self.name} :{self.port}", self.log_path)
        self.registry.stoppers.append(lambda p=self.proc: _stop_process(p))
        if not _wait_ready(f"{self.url}/-/ready", self.proc, START_TIMEOUT_S):
            pytest.fail(f"{self.name} did not start:\n{_tail(self.log_path)}", pytrace=False)
        return self

    def _workers(self) -> set[int]:
        out = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # The command may hold blanks and parentheses: the fields after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                out.add(int(entry))
        return out

    def reload(self, ports: Iterable[int], timeout: float = 15.0) -> None:
        """A new server list, as an operator would apply it: rewrite, signal, and wait
        until every worker of the old configuration has exited."""
        self.conf.write_text(self.render(ports))
        old = self._workers()
        assert old, f"{self.name} has no workers"
        self.proc.send_signal(self.reload_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self._workers()
            if now and not (now & old):
                return
            time.sleep(0.05)
        pytest.fail(f"{self.name} did not replace its workers within {timeout:.0f} s:\n{_tail(self.log_path)}",
                    pytrace=False)


class NginxRouter(Router):
    """Debian's nginx with deploy/nginx/gravel.conf."""

    name = "nginx"
    shipped = NGINX_CONF

    def render(self, ports: Iterable[int]) -> str:
        text = self.shipped.read_text()
        servers = re.findall(r"^        server (\S+) ([^;\n]*);\n", text, re.M)
        assert len(servers) >= 2, f"no server lines in {self.shipped}"
        params = {p for _, p in servers}
        assert len(params) == 1, f"the server lines of {self.shipped} differ in their parameters: {params}"
        (param,) = params
        ours = "".join(f"        server 127.0.0.1:{port} {param};\n" for port in ports)
        text, count = re.subn(r"(?:^        server \S+ [^;\n]*;\n)+", lambda _: ours, text, flags=re.M)
        assert count == 1, "the server lines are not one block"
        text, count = re.subn(r"^        listen 4278;$", f"        listen 127.0.0.1:{self.port};", text, flags=re.M)
        assert count == 1, f"{self.shipped} does not listen on 4278"
        if os.geteuid() == 0:
            # As root nginx would switch its workers to nobody, who cannot enter the test's
            # private temporary directory.
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            text = f"user {user} {group};\n" + text
        return text

    def args(self) -> list[str]:
        return ["nginx", "-p", f"{self.prefix}/", "-e", "stderr", "-c", str(self.conf), "-g", "daemon off;"]

    def check_args(self) -> list[str]:
        return [*self.args(), "-t"]


class HAProxyRouter(Router):
    """Debian's HAProxy with deploy/haproxy/gravel.cfg."""

    name = "haproxy"
    shipped = HAPROXY_CFG
    # Master-worker mode: the master re-executes with the new file, old workers finish.
    reload_signal = signal.SIGUSR2

    def render(self, ports: Iterable[int]) -> str:
        text = self.shipped.read_text()
        servers = re.findall(r"^    server \S+ \S+ id \d+$", text, re.M)
        assert len(servers) >= 2, f"no server lines in {self.shipped}"
        # A node keeps its id (the ring is built from ids) however the list changes.
        ours = "".join(f"    server gravel-gateway-{i} 127.0.0.1:{port} id {i + 1}\n" for i, port in enumerate(ports))
        text, count = re.subn(r"(?:^    server \S+ \S+ id \d+\n)+", lambda _: ours, text, flags=re.M)
        assert count == 1, "the server lines are not one block"
        text, count = re.subn(r"^    bind :4278$", f"    bind 127.0.0.1:{self.port}", text, flags=re.M)
        assert count == 1, f"{self.shipped} does not bind :4278"
        return text

    def args(self) -> list[str]:
        return ["haproxy", "-W", "-db", "-f", str(self.conf)]

    def check_args(self) -> list[str]:
        return ["haproxy", "-c", "-f", str(self.conf)]


ROUTERS = {"nginx": NginxRouter, "haproxy": HAProxyRouter}


class Cluster:
    """Starts nodes, the router and Prometheus for one test; everything is stopped at
    teardown and the logs are attached to a failure."""

    def __init__(self, request, tmp_path: Path):
        self.tmp = tmp_path
        self.registry = _ProcessRegistry(request.node)
        self.binary = gateway_binary()
        self.durable = _supports("--data-dir")
        self.nodes: list[Node] = []
        self.pushers: list[Pusher] = []

    def start_node(self, name: str, *args: str, port: int | None = None, data_dir: Path | None = None) -> Node:
        """A node called `name`, on `port` (a free one by default), with its own data
        directory when the binary has --data-dir (the same one again when given)."""
        port = port or free_port()
        if self.durable:
            data_dir = data_dir or self.tmp / f"data-{name}"
            data_dir.mkdir(exist_ok=True)
            args = ("--data-dir", str(data_dir), *args)
        log_path = self.tmp / f"{name}-{port}-{time.monotonic_ns()}.log"
        argv = [str(self.binary), "-l", f"127.0.0.1:{port}", "--log-level", "info", *args]
        proc = _spawn(argv, log_path, self.tmp)
        self.registry.add_log(f"{name} :{port}", log_path)
        self.registry.stoppers.append(lambda p=proc: _stop_process(p))
        if not _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, START_TIMEOUT_S):
            pytest.fail(f"{name} did not become ready:\n{_tail(log_path)}", pytrace=False)
        node = Node(name, port, data_dir, Gateway(proc, port, log_path, argv))
        self.nodes = [n for n in self.nodes if n.name != name] + [node]
        return node

    def push_continuously(self, router: Router, groups: list[int]) -> "Pusher":
        """Starts pushers through the router; they are stopped at teardown at the latest."""
        pusher = Pusher(router.url, groups).start()
        self.pushers.append(pusher)
        return pusher

    def router(self, kind: str = "nginx") -> Router:
        """A router of this kind (nginx, haproxy), not started yet."""
        return ROUTERS[kind](self.tmp / f"{kind}-{time.monotonic_ns()}", self.registry)

    def start_router(self, nodes: Iterable[Node], kind: str = "nginx") -> Router:
        return self.router(kind).start(n.port for n in nodes)

    def targets(self, nodes: Iterable[Node]) -> list[dict]:
        """file_sd target groups with the meta labels Kubernetes pod discovery sets, so the
        shipped relabelling decides what is kept and how gravel_node is named."""
        return [
            {
                "targets": [f"127.0.0.1:{n.port}"],
                "labels": {
                    "__meta_kubernetes_pod_name": n.name,
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name": "gravel-gateway",
                    "__meta_kubernetes_pod_container_port_name": "http",
                },
            }
            for n in nodes
        ]

    def start_prometheus(self, nodes: Iterable[Node]) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus not found: run scripts/setup.sh test", pytrace=False)
        workdir = self.tmp / "prometheus"
        (workdir / "data").mkdir(parents=True)
        targets = workdir / "targets.json"
        targets.write_text(json.dumps(self.targets(nodes)))
        (job,) = yaml.safe_load(SCRAPE_JOB.read_text())["scrape_configs"]
        # The shipped job, with file discovery instead of the Kubernetes API and a short
        # interval; every other setting (honor_labels, relabelling) as shipped.
        assert "kubernetes_sd_configs" in job
        del job["kubernetes_sd_configs"]
        job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "1s"}]
        job["scrape_interval"] = "1s"
        job["scrape_timeout"] = "1s"
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                                          "scrape_configs": [job]}))
        check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        port = free_port()
        log_path = workdir / "prometheus.log"
        args = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", f"--web.console.templates={workdir}",
                f"--web.console.libraries={workdir}", "--log.level=info"]
        proc = _spawn(args, log_path, workdir)
        self.registry.add_log(f"prometheus :{port}", log_path)
        self.registry.stoppers.append(lambda p=proc: _stop_process(p))
        if not _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, 30.0):
            pytest.fail(f"prometheus did not start:\n{_tail(log_path)}", pytrace=False)
        return PrometheusServer(proc, port, log_path, config)

    def state(self, nodes: Iterable[Node] | None = None) -> "State":
        """One scrape of each node (all of them by default)."""
        return State({n.name: n.groups() for n in (nodes or self.nodes)})

    def owners(self, nodes: Iterable[Node] | None = None) -> dict[str, list[str]]:
        return self.state(nodes).owners()

    def values(self, nodes: Iterable[Node] | None = None) -> dict[str, float]:
        return self.state(nodes).values()


@dataclass
class State:
    """{node name: {group: counter value}}, from one scrape of each node."""
    by_node: dict[str, dict[str, float]]

    def owners(self) -> dict[str, list[str]]:
        """{group: [names of the nodes exposing it]}."""
        out: dict[str, list[str]] = {}
        for name, groups in self.by_node.items():
            for g in groups:
                out.setdefault(g, []).append(name)
        return out

    def values(self) -> dict[str, float]:
        """{group: the counter summed over the nodes}."""
        out: dict[str, float] = {}
        for groups in self.by_node.values():
            for g, v in groups.items():
                out[g] = out.get(g, 0.0) + v
        return out


@pytest.fixture
def cluster(request, tmp_path) -> Iterable[Cluster]:
    c = Cluster(request, tmp_path)
    yield c
    # A test that failed half-way leaves its pushers running: stop them before the
    # processes they push to.
    for pusher in c.pushers:
        pusher.stop()
    c.registry.stop_all()


# --------------------------------------------------------------------------
# Load through the router
# --------------------------------------------------------------------------

@dataclass
class Outcome:
    group: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer


@dataclass
class Pusher:
    """Threads pushing `<counter> 1` to their share of the groups through the router,
    round after round, recording every push's outcome."""
    url: str
    groups: list[int]
    threads: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    rounds: int = 0

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _run(self, mine: list[int]) -> None:
        body = COUNTER_TYPE + f"{COUNTER} 1\n"
        with _http_session() as s:
            while not self._stop.is_set():
                for i in mine:
                    if self._stop.is_set():
                        return
                    started = time.monotonic()
                    try:
                        status = s.post(self.url + group_path(i), data=body, timeout=10,
                                        headers={"Content-Type": "text/plain; version=0.0.4"}).status_code
                    except requests.RequestException:
                        status = 0
                    with self._lock:
                        self.outcomes.append(Outcome(f"g{i:04d}", started, time.monotonic(), status))

    def start(self) -> "Pusher":
        for t in range(self.threads):
            w = threading.Thread(target=self._run, args=(self.groups[t::self.threads],), daemon=True)
            w.start()
            self._workers.append(w)
        return self

    def stop(self) -> None:
        """Stops the threads (again: a no-op)."""
        self._stop.set()
        for w in self._workers:
            w.join(timeout=15)
        assert not any(w.is_alive() for w in self._workers), "a pusher thread did not stop"

    def wait_rounds(self, rounds: int, timeout: float) -> None:
        """Until every group was pushed `rounds` more times."""
        want = {f"g{i:04d}": rounds for i in self.groups}
        start = len(self.snapshot())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done: dict[str, int] = {}
            for o in self.snapshot()[start:]:
                done[o.group] = done.get(o.group, 0) + 1
            if all(done.get(g, 0) >= n for g, n in want.items()):
                return
            time.sleep(0.05)
        pytest.fail(f"the pushers did not get through {rounds} rounds in {timeout:.0f} s", pytrace=False)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def acked(self, where: Callable[[Outcome], bool] = lambda o: True) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.snapshot():
            if o.status == 200 and where(o):
                out[o.group] = out.get(o.group, 0) + 1
        return out

    def sent(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.snapshot():
            out[o.group] = out.get(o.group, 0) + 1
        return out


def push_once(router: Router, groups: Iterable[int], value: Callable[[int], int]) -> None:
    """One POST per group through the router (four threads), asserting 200s."""
    groups = list(groups)
    failures: list[str] = []

    def work(mine: list[int]) -> None:
        with _http_session() as s:
            for i in mine:
                r = s.post(router.url + group_path(i), data=COUNTER_TYPE + f"{COUNTER} {value(i)}\n", timeout=10)
                if r.status_code != 200:
                    failures.append(f"{group_path(i)}: {r.status_code} {r.text!r}")

    workers = [threading.Thread(target=work, args=(groups[t::4],)) for t in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not failures, failures[:10]


# --------------------------------------------------------------------------
# (a) three nodes: placement, balance, exact sums in Prometheus
# --------------------------------------------------------------------------

@ROUTER_KINDS
def test_three_nodes_hold_every_group_once_and_prometheus_sums_them_exactly(cluster, kind):
    nodes = [cluster.start_node(f"gravel-gateway-{i}") for i in range(3)]
    router = cluster.start_router(nodes, kind)
    prom = cluster.start_prometheus(nodes)

    groups = range(1000)
    value = lambda i: i % 7 + 1  # noqa: E731
    push_once(router, groups, value)
    expected_total = sum(value(i) for i in groups)

    owners = cluster.owners()
    assert sorted(owners) == sorted(f"g{i:04d}" for i in groups), "groups missing from every node"
    twice = {g: o for g, o in owners.items() if len(o) != 1}
    assert not twice, f"groups on more than one node: {dict(list(twice.items())[:10])}"
    counts = {n.name: sum(1 for o in owners.values() if o == [n.name]) for n in nodes}
    assert all(0.25 <= c / len(groups) <= 0.42 for c in counts.values()), f"uneven shares of {len(groups)}: {counts}"

    # The user's view: one series per group, the node's name in gravel_node, and sums over
    # the nodes equal to what was pushed.
    prom.wait_for(f"sum({COUNTER})", lambda r: r and float(r[0]["value"][1]) == expected_total)
    prom.wait_for(f"count({COUNTER})", lambda r: r and float(r[0]["value"][1]) == len(groups))
    per_node = {
        s["metric"]["gravel_node"]: int(s["value"][1])
        for s in prom.query(f"count by (gravel_node) ({COUNTER})")
    }
    assert per_node == counts
    assert prom.query(f"count by (job, group) ({COUNTER}) > 1") == []
    assert prom.query(f"{COUNTER}{{instance!=\"\"}}") == [], "honor_labels: the pushed instance=\"\" must win"
    by_job = prom.query(f"sum without (instance, gravel_node, group) ({COUNTER})")
    assert [(s["metric"], float(s["value"][1])) for s in by_job] == [
        ({"job": "cluster"}, expected_total)
    ]
    up = {s["metric"]["gravel_node"]: s["value"][1] for s in prom.query('up{job="gravel"}')}
    assert up == {n.name: "1" for n in nodes}


# --------------------------------------------------------------------------
# (b) a node killed under load
# --------------------------------------------------------------------------

def _kill_under_load(cluster: Cluster, kind: str, seconds_after: float):
    nodes = [cluster.start_node(f"gravel-gateway-{i}") for i in range(3)]
    router = cluster.start_router(nodes, kind)
    groups = list(range(300))
    pusher = cluster.push_continuously(router, groups)
    pusher.wait_rounds(2, timeout=60)
    owners_before = cluster.owners()
    victim = nodes[1]
    victim_groups = {g for g, o in owners_before.items() if o == [victim.name]}
    assert victim_groups, "the victim holds no group"

    kill_started = time.monotonic()
    assert victim.gateway.kill() == -signal.SIGKILL
    # Reaped: no push that starts from here on can reach it.
    killed_at = time.monotonic()
    time.sleep(seconds_after)
    return nodes, router, pusher, victim, victim_groups, kill_started, killed_at


@ROUTER_KINDS
def test_a_killed_node_s_groups_go_on_at_once_on_the_others(cluster, kind):
    nodes, router, pusher, victim, victim_groups, kill_started, killed_at = _kill_under_load(cluster, kind, 4.0)
    pusher.stop()
    outcomes = pusher.snapshot()

    # Only pushes in flight to the dead node can fail (a POST that reached it is not sent
    # elsewhere); every push that started a second after the kill succeeded.
    failed = [o for o in outcomes if o.status != 200]
    late = [o for o in failed if o.started > killed_at + 1.0]
    assert not late, f"pushes failed long after the kill: {late[:5]}"
    assert all(o.group in victim_groups and o.status in PUSH_LOST for o in failed), failed[:10]
    after = [o for o in outcomes if o.group in victim_groups and o.started > killed_at + 1.0]
    assert len(after) >= len(victim_groups), "too few pushes for the dead node's groups after the kill"

    survivors = [n for n in nodes if n is not victim]
    on_survivors = cluster.values(survivors)
    acked = pusher.acked()
    acked_after_kill = pusher.acked(lambda o: o.started >= killed_at)
    acked_before_kill = pusher.acked(lambda o: o.ended < kill_started)
    sent = pusher.sent()
    for g in sorted(acked):
        if g in victim_groups:
            # Moved at the kill: the survivors hold everything acknowledged after it, and
            # nothing that was acknowledged by the dead node before it.
            assert acked_after_kill.get(g, 0) <= on_survivors.get(g, 0) <= sent[g] - acked_before_kill.get(g, 0), g
        else:
            assert on_survivors.get(g) == acked[g], f"{g}: {on_survivors.get(g)} != {acked[g]} acknowledged"


@ROUTER_KINDS
def test_a_killed_node_returns_with_its_data_and_its_groups(cluster, kind):
    if not cluster.durable:
        pytest.skip("this gravel-gateway has no --data-dir (issue 11): a restarted node cannot return its data")
    nodes, router, pusher, victim, victim_groups, _, killed_at = _kill_under_load(cluster, kind, 2.0)
    restarted = cluster.start_node(victim.name, port=victim.port, data_dir=victim.data_dir)
    returned_at = time.monotonic()
    # nginx tries the node again after fail_timeout (3 s); give the groups time to return.
    time.sleep(5.0)
    back_from = time.monotonic()
    pusher.wait_rounds(2, timeout=60)
    pusher.stop()

    nodes = [restarted if n.name == victim.name else n for n in nodes]
    final = cluster.state(nodes)
    totals = final.values()
    acked = pusher.acked()
    sent = pusher.sent()
    lost = {g: (totals.get(g, 0), acked[g]) for g in acked if not acked[g] <= totals.get(g, 0) <= sent[g]}
    assert not lost, f"groups whose sum over the nodes is not between acknowledged and sent: {dict(list(lost.items())[:10])}"

    # The groups went back to their node: it took every push made after it was back.
    back = pusher.acked(lambda o: o.started >= back_from)
    on_restarted = final.by_node[restarted.name]
    for g in victim_groups:
        assert on_restarted.get(g, 0) >= back.get(g, 0) > 0, g
    # Only the restarted node's groups were split while it was away.
    split = {g for g, o in final.owners().items() if len(o) > 1}
    assert split <= victim_groups, sorted(split - victim_groups)[:10]
    assert returned_at > killed_at


# --------------------------------------------------------------------------
# (c) a fourth node
# --------------------------------------------------------------------------

TTL_S = 3.0


@ROUTER_KINDS
def test_a_fourth_node_takes_a_quarter_of_the_groups_and_old_copies_expire(cluster, kind):
    ttl = ("--series-ttl", f"{int(TTL_S)}s")
    nodes = [cluster.start_node(f"gravel-gateway-{i}", *ttl) for i in range(3)]
    router = cluster.start_router(nodes, kind)
    groups = list(range(400))
    # Pushed continuously, each group about every few hundred milliseconds: live groups
    # never reach the TTL; only copies nobody pushes to any more do.
    pusher = cluster.push_continuously(router, groups)
    pusher.wait_rounds(2, timeout=60)
    before = cluster.owners()
    assert all(len(o) == 1 for o in before.values())

    fourth = cluster.start_node("gravel-gateway-3", *ttl)
    moved_from = time.monotonic()
    router.reload(n.port for n in [*nodes, fourth])
    settled = time.monotonic()
    pusher.wait_rounds(2, timeout=60)

    # Right after the move, a moved group is on the new node and (until the TTL) still on
    # its old one.
    on_fourth = set(fourth.groups())
    moved = {g for g in before if g in on_fourth}
    assert 0.15 <= len(moved) / len(groups) <= 0.35, f"{len(moved)} of {len(groups)} groups moved"

    time.sleep(TTL_S + 1.5)
    pusher.wait_rounds(1, timeout=60)
    pusher.stop()
    # At once: the TTL is short, and the groups are no longer pushed.
    final = cluster.state([*nodes, fourth])
    after = final.owners()
    twice = {g: o for g, o in after.items() if len(o) != 1}
    assert not twice, f"groups exposed by more than one node after the TTL: {dict(list(twice.items())[:10])}"
    assert sorted(after) == sorted(before), "groups lost"
    for g, (owner,) in after.items():
        if g in moved:
            assert owner == fourth.name, g
        else:
            assert [owner] == before[g], f"{g} moved from {before[g]} to {owner}, not to the new node"

    # Nothing acknowledged is lost: a group that stayed holds every push; a moved one holds
    # every push acknowledged after the router's reload (and none from before the move).
    values = final.values()
    acked = pusher.acked()
    sent = pusher.sent()
    since_settled = pusher.acked(lambda o: o.started >= settled)
    until_move = pusher.acked(lambda o: o.ended < moved_from)
    for g in acked:
        if g in moved:
            assert since_settled.get(g, 0) <= values[g] <= sent[g] - until_move.get(g, 0), g
        else:
            assert values[g] == acked[g], f"{g}: {values[g]} != {acked[g]}"


# --------------------------------------------------------------------------
# The router's rules: retries, Authorization, body size
# --------------------------------------------------------------------------

class SwallowingNode:
    """A node that reads each push whole and closes the connection without answering, as
    a gateway killed right after it read a push would: the push may have been applied.
    Its probes (/-/ready, which HAProxy checks) answer 200, as a live node's do."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.name = "swallower"
        self.paths: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    if not head:
                        continue
                    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
                    need = int(m.group(1)) if m else 0
                    while len(body) < need:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                    path = head.split(b" ")[1].decode()
                    if path.startswith("/-/"):
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                    else:
                        self.paths.append(path)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@ROUTER_KINDS
def test_a_post_that_reached_a_node_is_never_sent_to_another(cluster, kind):
    real = cluster.start_node("gravel-gateway-0")
    swallower = SwallowingNode()
    try:
        router = cluster.router(kind).start([swallower.port, real.port])
        with _http_session() as s:
            results = {}
            for i in range(40):
                try:
                    status = s.post(router.url + group_path(i), data=COUNTER_TYPE + f"{COUNTER} 1\n",
                                    timeout=10).status_code
                except requests.ConnectionError:
                    status = 0
                results[f"g{i:04d}"] = status
        on_real = real.groups()
        swallowed = {p.rsplit("/", 1)[1] for p in swallower.paths}
        assert swallowed, "no push reached the swallowing node; the test proves nothing"
        for g, status in results.items():
            if g in swallowed:
                # The swallowing node read it: the router does not resend it, and answers
                # 502 (nginx) or closes the client's connection (HAProxy, when the push went
                # over a reused connection).
                assert status in PUSH_LOST and g not in on_real, (g, status)
            else:
                assert status == 200 and on_real.get(g) == 1, (g, status)
        if kind != "nginx":
            return  # HAProxy retries nothing that was sent; nginx retries PUT and DELETE:
        # PUT is idempotent: nginx resends it after the node dropped it, so it arrives.
        g = sorted(swallowed)[0]
        i = int(g[1:])
        # Once the swallowing node's fail_timeout (3 s) is over, nginx chooses it again for
        # the group; on a busy machine that may take a little longer, so try for a while.
        deadline = time.monotonic() + 15
        resent = False
        while not resent and time.monotonic() < deadline:
            time.sleep(0.5)
            before = len(swallower.paths)
            r = requests.put(router.url + group_path(i), data=COUNTER_TYPE + f"{COUNTER} 5\n", timeout=10)
            assert r.status_code == 200, r.text
            resent = len(swallower.paths) == before + 1
        assert resent, "no PUT went to the group's node first within 15 s"
        assert real.groups()[g] == 5
    finally:
        swallower.close()


@ROUTER_KINDS
def test_a_refused_connection_is_retried_on_the_next_node(cluster, kind):
    real = cluster.start_node("gravel-gateway-0")
    # Nothing listens on this port: as a node whose process died.
    router = cluster.router(kind).start([free_port(), real.port])
    with _http_session() as s:
        for i in range(40):
            r = s.post(router.url + group_path(i), data=COUNTER_TYPE + f"{COUNTER} 1\n", timeout=10)
            assert r.status_code == 200, (i, r.status_code, r.text)
    assert real.groups() == {f"g{i:04d}": 1 for i in range(40)}


@ROUTER_KINDS
def test_authorization_and_large_bodies_pass_through_the_router(cluster, kind):
    if shutil.which("htpasswd") is None:
        pytest.fail("htpasswd not found: run scripts/setup.sh test (apache2-utils)", pytrace=False)
    hashed = subprocess.run(["htpasswd", "-bnBC", "4", "", "router secret"], capture_output=True, text=True,
                            check=True, timeout=30).stdout.strip().strip(":")
    auth_file = cluster.tmp / "auth.txt"
    auth_file.write_text(hashed + "\n")
    node = cluster.start_node("gravel-gateway-0", "--basic-auth-file", str(auth_file))
    router = cluster.start_router([node], kind)
    body = COUNTER_TYPE + f"{COUNTER} 1\n"
    assert requests.post(router.url + group_path(1), data=body, timeout=10).status_code == 401
    r = requests.post(router.url + group_path(1), data=body, auth=("ci", "router secret"), timeout=10)
    assert r.status_code == 200, r.text

    # Past nginx's default 1 MiB and within the gateway's 16 MiB: accepted whole.
    lines = 60_000
    big = "# TYPE cluster_big gauge\n" + "".join(f'cluster_big{{n="{n:08d}",pad="{"x" * 24}"}} {n}\n' for n in range(lines))
    assert 2 * 1024 * 1024 < len(big) < 16 * 1024 * 1024
    r = requests.put(router.url + group_path(2), data=big, auth=("ci", "router secret"), timeout=60)
    assert r.status_code == 200, r.text[:500]
    scraped = node.gateway.scrape_text()
    assert scraped.count("cluster_big{") == lines
    # Past 16 MiB: the router refuses it before any node sees it.
    huge = b"x" * (16 * 1024 * 1024 + 1)
    r = requests.post(router.url + group_path(3), data=huge, auth=("ci", "router secret"), timeout=60)
    assert r.status_code == 413


@ROUTER_KINDS
def test_the_router_forwards_pushes_only(cluster, kind):
    node = cluster.start_node("gravel-gateway-0")
    router = cluster.start_router([node], kind)
    assert requests.get(router.url + "/-/healthy", timeout=10).status_code == 200
    r = requests.get(router.url + "/metrics", timeout=10)
    assert r.status_code == 404 and "scrape each gravel-gateway node directly" in r.text
    assert requests.get(router.url + "/api/v1/status", timeout=10).status_code == 404


def test_the_readme_queries_read_counters_and_gauges_right_across_a_move(cluster):
    """Before the old copies expire, a moved group is exposed by two nodes: a counter's
    sum over the nodes still counts every push once, and the README's query for a gauge
    (the copy with the newest push_time_seconds) gives one value per group, the last."""
    first = cluster.start_node("gravel-gateway-0")
    second = cluster.start_node("gravel-gateway-1")
    router = cluster.start_router([first])
    prom = cluster.start_prometheus([first, second])
    groups = range(60)

    def push_all(gauge: int) -> None:
        with _http_session() as s:
            for i in groups:
                body = COUNTER_TYPE + f"{COUNTER} 1\n# TYPE cluster_gauge gauge\ncluster_gauge {gauge}\n"
                r = s.post(router.url + group_path(i), data=body, timeout=10)
                assert r.status_code == 200, r.text

    push_all(1)
    router.reload([first.port, second.port])
    push_all(2)
    moved = set(second.groups())
    assert moved and all(first.groups()[g] == 1 for g in moved), "the moved groups should be on both nodes"

    newest = (
        "cluster_gauge and on (job, group, gravel_node) "
        "(push_time_seconds == on (job, group) group_left max by (job, group) (push_time_seconds))"
    )
    result = prom.wait_for(newest, lambda r: len(r) == len(groups) and {float(s["value"][1]) for s in r} == {2.0})
    owner = {s["metric"]["group"]: s["metric"]["gravel_node"] for s in result}
    assert {g for g, n in owner.items() if n == second.name} == moved
    both = prom.query("count by (group) (cluster_gauge) > 1")
    assert {s["metric"]["group"] for s in both} == moved
    total = prom.query(f"sum without (instance, gravel_node) ({COUNTER})")
    assert [float(s["value"][1]) for s in total] == [2.0] * len(groups)
