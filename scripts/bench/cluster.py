#!/usr/bin/env python3
"""Throughput of gravel-gateway nodes behind the nginx router, against one node alone.

Three set-ups, the same wrk load (scripts/bench/cluster.lua: the bench's push body, each
request to the next of 1,000 grouping keys), alternating for --rounds rounds:

  single         wrk -> one gravel-gateway
  single-routed  wrk -> nginx (deploy/nginx/gravel.conf) -> one gravel-gateway
  three-routed   wrk -> nginx -> three gravel-gateways

For each: pushes/s, p99 latency, and CPU per push of the gateways (summed over the
nodes) and of nginx (master and workers), from /proc. On one machine the nodes share its
cores with nginx and wrk, so the CPU per push says what N nodes carry on N machines; the
pushes/s say what this machine carries.

    python3 scripts/bench/cluster.py --bin .build/release --out cluster.json

make bench runs it (scripts/bench.sh, phase `cluster`); BENCH_QUICK=1 makes it short.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "gravel.conf"
LUA = ROOT / "scripts" / "bench" / "cluster.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"cluster bench: {what} exited at start-up (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"cluster bench: {what} not ready at {url} after {timeout:.0f} s")


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
            except OSError:
                pass
    return out


def router_config(ports: list[int], listen: int) -> str:
    """deploy/nginx/gravel.conf with its server lines pointing at these ports (their
    parameters kept) and listening on `listen`, as the cluster tests run it."""
    text = NGINX_CONF.read_text()
    (param,) = {p for p in re.findall(r"^        server \S+ ([^;\n]*);\n", text, re.M)}
    servers = "".join(f"        server 127.0.0.1:{p} {param};\n" for p in ports)
    text = re.sub(r"(?:^        server \S+ [^;\n]*;\n)+", lambda _: servers, text, count=1, flags=re.M)
    text = text.replace("        listen 4278;", f"        listen 127.0.0.1:{listen};")
    if os.geteuid() == 0:
        text = "user root root;\n" + text
    return text


class Procs:
    def __init__(self, work: Path):
        self.work = work
        self.procs: list[subprocess.Popen] = []

    def spawn(self, args: list[str], log: str) -> subprocess.Popen:
        with open(self.work / log, "wb") as f:
            p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def start_gateways(procs: Procs, binary: Path, n: int) -> list[tuple[int, subprocess.Popen]]:
    out = []
    for i in range(n):
        port = free_port()
        p = procs.spawn([str(binary), "-l", f"127.0.0.1:{port}", "--log-level", "warning"], f"gateway-{i}-{port}.log")
        wait_ready(f"http://127.0.0.1:{port}/-/ready", p, f"gravel-gateway {i}")
        out.append((port, p))
    return out


def start_router(procs: Procs, ports: list[int]) -> tuple[int, subprocess.Popen]:
    listen = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="router-", dir=procs.work))
    conf = prefix / "gravel.conf"
    conf.write_text(router_config(ports, listen))
    p = procs.spawn(["nginx", "-p", f"{prefix}/", "-e", "stderr", "-c", str(conf), "-g", "daemon off;"],
                    f"nginx-{listen}.log")
    wait_ready(f"http://127.0.0.1:{listen}/-/ready", p, "nginx")
    return listen, p


def run_wrk(port: int, body: Path, seconds: int, connections: int, threads: int, groups: int, out: Path) -> dict:
    env = dict(os.environ, BENCH_BODY=str(body), BENCH_GROUPS=str(groups), BENCH_WRK_JSON=str(out))
    r = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA),
         f"http://127.0.0.1:{port}"],
        env=env, capture_output=True, text=True, timeout=seconds + 60,
    )
    if r.returncode != 0 or not out.exists():
        sys.exit(f"cluster bench: wrk failed:\n{r.stdout}\n{r.stderr}")
    return json.loads(out.read_text())


def pushes_per_node(ports: list[int]) -> list[float]:
    """gravel_gateway_pushes_total{outcome="accepted"} of each node."""
    out = []
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
            text = r.read().decode()
        m = re.search(r'^gravel_gateway_pushes_total\{[^}]*outcome="accepted"[^}]*\} (\S+)$', text, re.M)
        if m is None:
            sys.exit(f"cluster bench: no accepted-pushes counter in the scrape of port {port}")
        out.append(float(m.group(1)))
    return out


def measure(setup: str, procs: Procs, binary: Path, args, work: Path, round_no: int) -> dict:
    nodes = 3 if setup == "three-routed" else 1
    gateways = start_gateways(procs, binary, nodes)
    ports = [p for p, _ in gateways]
    gw_pids = [proc.pid for _, proc in gateways]
    target, router_pids = ports[0], []
    if setup != "single":
        target, router = start_router(procs, ports)
        router_pids = [router.pid, *children(router.pid)]
    # Warm-up: connections, the groups created, nginx's keep-alive pool filled.
    run_wrk(target, args.body, args.warmup, args.connections, args.threads, args.groups, work / "warmup.json")
    before_pushes = pushes_per_node(ports)
    gw0, r0 = cpu_ticks(gw_pids), cpu_ticks(router_pids)
    result = run_wrk(target, args.body, args.duration, args.connections, args.threads, args.groups,
                     work / f"{setup}-{round_no}.json")
    gw1, r1 = cpu_ticks(gw_pids), cpu_ticks(router_pids)
    per_node = [a - b for a, b in zip(pushes_per_node(ports), before_pushes)]
    procs.stop_all()
    requests = result["requests"]
    errors = sum(result["errors"].values())
    seconds = result["duration_us"] / 1e6
    return {
        "setup": setup,
        "round": round_no,
        "nodes": nodes,
        "pushes_per_s": requests / seconds,
        "p50_ms": result["latency_us"]["p50"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000,
        "errors": errors,
        "gateway_cpu_us_per_push": (gw1 - gw0) / CLK_TCK / requests * 1e6 if requests else None,
        "router_cpu_us_per_push": (r1 - r0) / CLK_TCK / requests * 1e6 if requests and router_pids else None,
        "node_share_of_pushes": [round(n / sum(per_node), 3) for n in per_node] if sum(per_node) else None,
    }


def main() -> None:
    quick = os.environ.get("BENCH_QUICK") == "1"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=Path, default=Path(os.environ.get("GRAVEL_BIN_DIR", ROOT / ".build" / "release")),
                    help="directory with gravel-gateway (and gravel-bench for the body)")
    ap.add_argument("--body", type=Path, help="push body (default: gravel-bench body push, as make bench)")
    ap.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    ap.add_argument("--duration", type=int, default=3 if quick else 10)
    ap.add_argument("--warmup", type=int, default=1 if quick else 2)
    ap.add_argument("--rounds", type=int, default=1 if quick else 3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--groups", type=int, default=1000)
    args = ap.parse_args()

    binary = args.bin / "gravel-gateway"
    if not binary.exists():
        sys.exit(f"cluster bench: {binary} is missing (swift build -c release)")
    work = Path(tempfile.mkdtemp(prefix="gravel-cluster-bench-"))
    if args.body is None:
        args.body = work / "push.txt"
        with open(args.body, "wb") as f:
            subprocess.run([str(args.bin / "gravel-bench"), "body", "push"], stdout=f, check=True, timeout=60)

    procs = Procs(work)
    runs = []
    try:
        for r in range(1, args.rounds + 1):
            for setup in ("single", "single-routed", "three-routed"):
                run = measure(setup, procs, binary, args, work, r)
                runs.append(run)
                print(f"cluster bench: {setup:13s} round {r}: {run['pushes_per_s']:8.0f} pushes/s  "
                      f"p99 {run['p99_ms']:6.2f} ms  gateway {run['gateway_cpu_us_per_push']:.0f} us/push  "
                      f"router {run['router_cpu_us_per_push'] or 0:.0f} us/push  errors {run['errors']}",
                      file=sys.stderr)
    finally:
        procs.stop_all()

    summary = {}
    for setup in ("single", "single-routed", "three-routed"):
        mine = [r for r in runs if r["setup"] == setup]
        summary[setup] = {
            key: round(statistics.median(r[key] for r in mine), 3)
            for key in ("pushes_per_s", "p50_ms", "p99_ms", "gateway_cpu_us_per_push")
        }
        if setup != "single":
            summary[setup]["router_cpu_us_per_push"] = round(statistics.median(r["router_cpu_us_per_push"] for r in mine), 3)
        summary[setup]["errors"] = sum(r["errors"] for r in mine)
        summary[setup]["node_share_of_pushes"] = mine[-1]["node_share_of_pushes"]
    single = summary["single"]
    three = summary["three-routed"]
    summary["three_vs_single_throughput"] = round(three["pushes_per_s"] / single["pushes_per_s"], 3)
    # What one node plus its share of the router costs per push, and so what N nodes on N
    # cores would carry.
    per_push_us = three["gateway_cpu_us_per_push"] + three["router_cpu_us_per_push"]
    summary["cpu_us_per_push_with_router"] = round(per_push_us, 1)
    summary["pushes_per_s_per_core_with_router"] = round(1e6 / per_push_us)
    report = {"nproc": os.cpu_count(), "duration_s": args.duration, "rounds": args.rounds,
              "connections": args.connections, "groups": args.groups,
              "body_bytes": args.body.stat().st_size, "summary": summary, "runs": runs}
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
