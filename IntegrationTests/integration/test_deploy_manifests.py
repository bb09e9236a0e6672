"""The deployment files in deploy/kubernetes: lint, schema, completeness.

Every YAML file passes yamllint with the repository's .yamllint; every Kubernetes
manifest validates (strictly: unknown fields fail) against the Kubernetes 1.34 schemas
that kubernetes-validate ships, offline. `kubectl kustomize` is not available here, so
each kustomization is checked by hand: everything it lists exists, and every file and
directory beside it is listed, so nothing is left out of `kubectl apply -k`. The
router's nginx configuration is the tested deploy/nginx/gravel.conf with the pods'
names as servers, and the Prometheus job is the one test_cluster.py runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT

K8S_DIR = REPO_ROOT / "deploy" / "kubernetes"
NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "gravel.conf"
KUBERNETES_VERSION = "1.34.0"
# Files a kustomization does not list because they are not part of what it applies.
NOT_APPLIED = {"kustomization.yaml", "Dockerfile"}


def _kustomizations() -> list[Path]:
    return sorted(K8S_DIR.rglob("kustomization.yaml"))


def _load(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def _manifests() -> list[Path]:
    """Every file some kustomization lists under `resources` (not directories)."""
    out = []
    for k in _kustomizations():
        for entry in _load(k).get("resources", []):
            target = (k.parent / entry).resolve()
            if target.is_file():
                out.append(target)
    return sorted(set(out))


def test_yamllint_passes_on_every_yaml_file():
    if shutil.which("yamllint") is None:
        pytest.fail("yamllint not found: run scripts/setup.sh test", pytrace=False)
    files = sorted(str(p) for p in K8S_DIR.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert len(files) >= 10, files
    proc = subprocess.run(
        ["yamllint", "--strict", "-c", str(REPO_ROOT / ".yamllint"), *files, str(REPO_ROOT / ".yamllint")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_manifest_validates_against_the_kubernetes_schema():
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    manifests = _manifests()
    kinds = []
    problems = []
    for path in manifests:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            kinds.append(doc.get("kind"))
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except ValidationError as e:
                where = ".".join(str(p) for p in e.path)
                problems.append(f"{path.relative_to(REPO_ROOT)}: {doc.get('kind')}/{doc['metadata'].get('name')}: {where}: {e.message}")
            except SchemaNotFoundError as e:
                problems.append(f"{path.relative_to(REPO_ROOT)}: no schema: {e.message}")
    assert not problems, "\n".join(problems)
    for kind in ("Namespace", "StatefulSet", "Service", "PodDisruptionBudget", "Deployment", "Role", "RoleBinding"):
        assert kind in kinds, f"no {kind} among the manifests: {kinds}"


def test_strict_validation_catches_a_misspelt_field():
    """The check above would be worthless if unknown fields passed."""
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    doc = _load(K8S_DIR / "gateway" / "service.yaml")
    doc["spec"]["publishNotReadyAdresses"] = False
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_each_kustomization_lists_every_file_beside_it_and_nothing_missing():
    kustomizations = _kustomizations()
    assert (K8S_DIR / "kustomization.yaml") in kustomizations
    reached = {K8S_DIR.resolve()}
    problems = []
    for k in kustomizations:
        spec = _load(k)
        assert spec.get("apiVersion") == "kustomize.config.k8s.io/v1beta1", k
        assert spec.get("kind") == "Kustomization", k
        listed: set[Path] = set()
        for entry in spec.get("resources", []):
            target = (k.parent / entry).resolve()
            if target.is_dir():
                if not (target / "kustomization.yaml").is_file():
                    problems.append(f"{k}: {entry} is a directory without a kustomization.yaml")
                reached.add(target)
            elif not target.is_file():
                problems.append(f"{k}: lists {entry}, which does not exist")
            listed.add(target)
        for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
            for entry in generator.get("files", []):
                name = entry.split("=", 1)[-1]
                target = (k.parent / name).resolve()
                if not target.is_file():
                    problems.append(f"{k}: generator {generator.get('name')} reads {name}, which does not exist")
                listed.add(target)
        for path in k.parent.iterdir():
            if path.is_file() and path.name not in NOT_APPLIED and path.resolve() not in listed:
                problems.append(f"{k}: does not list {path.name}")
    for d in [p for p in K8S_DIR.rglob("*") if p.is_dir()]:
        if d.resolve() not in reached and (d / "kustomization.yaml").is_file():
            # A kustomization nobody includes is an entry point of its own: it must say how
            # to apply it (the Envoy variant does).
            text = (d / "kustomization.yaml").read_text()
            if "kubectl apply -k" not in text:
                problems.append(f"{d}: not included by another kustomization and not documented as an entry point")
        elif d.resolve() not in reached:
            problems.append(f"{d}: a directory without a kustomization.yaml")
    assert not problems, "\n".join(problems)


def test_both_routers_and_the_default_reach_the_same_gateways():
    default = [e for e in _load(K8S_DIR / "kustomization.yaml")["resources"]]
    envoy = [e.removeprefix("../") for e in _load(K8S_DIR / "envoy" / "kustomization.yaml")["resources"]]
    assert "router-nginx" in default and "router-envoy" not in default
    assert "router-envoy" in envoy and "router-nginx" not in envoy
    assert sorted(set(default) - {"router-nginx"}) == sorted(set(envoy) - {"router-envoy"})


def _server_lines(conf: str) -> list[str]:
    block = re.search(r"upstream gravel_gateways \{(.*?)\n    \}", conf, re.S)
    assert block, "no upstream gravel_gateways block"
    return re.findall(r"^\s*server\s+(\S+)\s+([^;]*);", block.group(1), re.M)


def _without_servers(conf: str) -> str:
    """The configuration from its first directive on, without the upstream's server lines
    and the resolver, blank lines collapsed."""
    body = conf[conf.index("worker_processes"):]
    lines = [
        line for line in body.split("\n")
        if not re.match(r"\s*(server\s+\S+:\d+\s|resolver\s)", line)
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def test_the_kubernetes_router_config_is_deploy_nginx_gravel_conf_with_the_pod_names():
    shipped = NGINX_CONF.read_text()
    k8s = (K8S_DIR / "router-nginx" / "gravel.conf").read_text()
    assert _without_servers(k8s) == _without_servers(shipped)
    shipped_servers = _server_lines(shipped)
    k8s_servers = _server_lines(k8s)
    replicas = _load(K8S_DIR / "gateway" / "statefulset.yaml")["spec"]["replicas"]
    assert len(k8s_servers) == replicas == len(shipped_servers)
    service = _load(K8S_DIR / "gateway" / "service.yaml")["metadata"]["name"]
    namespace = _load(K8S_DIR / "gateway" / "kustomization.yaml")["namespace"]
    for i, (address, params) in enumerate(k8s_servers):
        assert address == f"gravel-gateway-{i}.{service}.{namespace}.svc.cluster.local:4278"
        assert params.split() == ["resolve", *shipped_servers[i][1].split()]
    assert re.search(r"^\s*resolver\s+\S+", k8s, re.M), "the Kubernetes router needs a resolver for `resolve`"


def test_the_envoy_router_hashes_the_path_over_the_same_pods_and_retries_only_connection_failures():
    envoy = _load(K8S_DIR / "router-envoy" / "envoy.yaml")
    hcm = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    push = hcm["route_config"]["virtual_hosts"][0]["routes"][0]
    assert push["match"] == {"prefix": "/metrics/"}
    assert push["route"]["hash_policy"] == [{"header": {"header_name": ":path"}}]
    assert push["route"]["retry_policy"]["retry_on"] == "connect-failure"
    buffer = [f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.buffer"][0]
    args = _load(K8S_DIR / "gateway" / "statefulset.yaml")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--max-body-bytes={buffer['typed_config']['max_request_bytes']}" in args
    cluster = envoy["static_resources"]["clusters"][0]
    assert cluster["lb_policy"] in ("RING_HASH", "MAGLEV")
    assert cluster["common_lb_config"]["consistent_hashing_lb_config"]["use_hostname_for_hashing"] is True
    addresses = [
        e["endpoint"]["address"]["socket_address"]["address"]
        for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ]
    nginx = [a.rsplit(":", 1)[0] for a, _ in _server_lines((K8S_DIR / "router-nginx" / "gravel.conf").read_text())]
    assert addresses == nginx


def test_the_gateway_statefulset_follows_the_rules_the_readme_gives():
    sts = _load(K8S_DIR / "gateway" / "statefulset.yaml")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    data_dir = next(a.split("=", 1)[1] for a in args if a.startswith("--data-dir="))
    assert any(a.startswith("--series-ttl=") for a in args)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]]
    assert mounts[claims[0]] == data_dir
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    scrape = _load(K8S_DIR / "prometheus" / "gravel-scrape.yml")["scrape_configs"][0]
    interval = int(scrape["scrape_interval"].removesuffix("s"))
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert sleep == 2 * interval
    # The gateway cancels what still runs 10 s after SIGTERM.
    assert pod["terminationGracePeriodSeconds"] >= sleep + 10
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert sts["spec"]["serviceName"] == _load(K8S_DIR / "gateway" / "service.yaml")["metadata"]["name"]
    assert _load(K8S_DIR / "gateway" / "service.yaml")["spec"]["clusterIP"] == "None"
    assert scrape["honor_labels"] is True
    relabel = {r.get("target_label"): r["source_labels"] for r in scrape["relabel_configs"]}
    assert relabel["gravel_node"] == ["__meta_kubernetes_pod_name"]
