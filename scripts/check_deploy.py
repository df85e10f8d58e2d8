"""Courier's own checks of its deployment files, run by scripts/check-deploy under its venv.

  check_deploy.py compose-refs COMPOSE_JSON     what `docker compose config --format json` names
                                                exists: secret files, bind-mount sources,
                                                Dockerfiles and build targets; a wait for a
                                                service to be healthy has a healthcheck to wait on
  check_deploy.py k8s-consistency RENDERED_YAML the rendered Kubernetes resources (`kustomize
                                                build`) agree with each other: references
                                                resolve, probes, limits, non-root, grace period,
                                                selectors

Each prints what is wrong, one line per problem, and exits 1 if anything is. Each check below
yields its problems, in the order the resources come: the compose ones as lines, the Kubernetes ones
as (where, what) pairs.

Plain Python 3.11; PyYAML comes with kubernetes-validate in .tools/deploy-venv.
"""

import json
import os
import re
import sys

import yaml

# --- compose-refs ---------------------------------------------------------------------------------


def compose_refs(path):
    with open(path) as f:
        project = json.load(f)
    services = project["services"]
    problems = list(secret_files(project))
    for name, service in services.items():
        problems += bind_mounts(name, service)
        problems += build(name, service)
        problems += healthy_waits(name, service, services)
    return problems


def secret_files(project):
    for name, secret in (project.get("secrets") or {}).items():
        if "file" in secret and not os.path.isfile(secret["file"]):
            yield f"secret {name}: no file {secret['file']}"


def bind_mounts(name, service):
    for volume in service.get("volumes") or []:
        if volume.get("type") == "bind" and not os.path.exists(volume["source"]):
            yield f"service {name}: bind-mount source {volume['source']} does not exist"


def build(name, service):
    """The Dockerfile a service builds from exists, and has the stage it targets."""
    spec = service.get("build")
    if not spec:
        return
    dockerfile = os.path.join(spec["context"], spec.get("dockerfile", "Dockerfile"))
    if not os.path.isfile(dockerfile):
        yield f"service {name}: no Dockerfile {dockerfile}"
        return
    with open(dockerfile) as f:
        stages = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", f.read())
    if spec.get("target") and spec["target"] not in stages:
        yield f"service {name}: target {spec['target']} is not a stage of {dockerfile} {stages}"


def healthy_waits(name, service, services):
    """A service waited on until healthy has a healthcheck (or builds an image that has one)."""
    for dep, how in (service.get("depends_on") or {}).items():
        if how.get("condition") == "service_healthy":
            target = services[dep]
            if "healthcheck" not in target and "build" not in target:
                yield f"service {name} waits for {dep} to be healthy, which has no healthcheck"


# --- k8s-consistency ------------------------------------------------------------------------------

API_DEPLOYMENTS = ("courier-api", "courier-worker")


def k8s_consistency(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    problems = []
    for check in (workloads, worker_grace_period, services, disruption_budgets, autoscalers, required):
        problems += check(by_kind)
    return [f"{where}: {what}" for where, what in problems]


def workloads(by_kind):
    """Every Deployment's and Job's pod, then each of its containers."""
    for kind in ("Deployment", "Job"):
        for name, resource in by_kind.get(kind, {}).items():
            where = f"{kind}/{name}"
            pod = resource["spec"]["template"]["spec"]
            yield from pod_references(by_kind, where, pod)
            for c in pod["containers"]:
                cw = f"{where} container {c['name']}"
                yield from container_security(cw, c, pod)
                yield from container_resources(cw, c)
                yield from container_references(by_kind, cw, c)
                yield from probe_ports(cw, c)
                yield from volume_mounts(cw, c, pod)
                if kind == "Deployment":
                    yield from deployment_probes(where, cw, c)


def pod_references(by_kind, where, pod):
    """The pod's ServiceAccount, and the Secrets and ConfigMaps its volumes take, are resources."""
    account = pod.get("serviceAccountName")
    if account and account not in by_kind.get("ServiceAccount", {}):
        yield where, f"ServiceAccount {account} is not among the resources"
    config = by_kind.get("ConfigMap", {})
    for volume in pod.get("volumes") or []:
        if "secret" in volume:
            yield from secret_items(by_kind, where, volume["secret"]["secretName"], volume["secret"].get("items"))
        if "configMap" in volume and volume["configMap"]["name"] not in config:
            yield where, f"ConfigMap {volume['configMap']['name']} is not among the resources"
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "secret" in source:
                yield from secret_items(by_kind, where, source["secret"]["name"], source["secret"].get("items"))


def secret_items(by_kind, where, name, items):
    """The Secret NAME is a resource, with every key that ITEMS name."""
    secret = by_kind.get("Secret", {}).get(name)
    if secret is None:
        yield where, f"Secret {name} is not among the resources"
        return
    keys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
    for item in items or []:
        if item["key"] not in keys:
            yield where, f"Secret {name} has no key {item['key']}"


def container_security(cw, c, pod):
    pod_context = pod.get("securityContext") or {}
    context = c.get("securityContext") or {}
    if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
        yield cw, "runAsNonRoot is not set"
    if context.get("allowPrivilegeEscalation") is not False:
        yield cw, "allowPrivilegeEscalation is not false"


def container_resources(cw, c):
    resources = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (resources.get(part) or {}):
                yield cw, f"no {part}.{r}"


def container_references(by_kind, cw, c):
    """The ConfigMaps and Secrets (and their keys) the container's environment takes exist."""
    config = by_kind.get("ConfigMap", {})
    for ref in c.get("envFrom") or []:
        if "configMapRef" in ref and ref["configMapRef"]["name"] not in config:
            yield cw, f"ConfigMap {ref['configMapRef']['name']} is not among the resources"
    for env in c.get("env") or []:
        source = env.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            if ref["key"] not in (config.get(ref["name"], {}).get("data") or {}):
                yield cw, f"ConfigMap {ref['name']} has no key {ref['key']}"
        if "secretKeyRef" in source:
            yield from secret_items(by_kind, cw, source["secretKeyRef"]["name"], [source["secretKeyRef"]])


def probe_ports(cw, c):
    """A probe that names its port names one of the container's ports."""
    names = {p.get("name") for p in c.get("ports") or []}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
        if isinstance(port, str) and port not in names:
            yield cw, f"{probe} uses port {port}, which the container does not name"


def volume_mounts(cw, c, pod):
    mounts = {m["name"] for m in c.get("volumeMounts") or []}
    missing = mounts - {v["name"] for v in pod.get("volumes") or []}
    if missing:
        yield cw, f"mounts undeclared volumes {sorted(missing)}"


def deployment_probes(where, cw, c):
    """A Deployment's containers have both probes; Courier's own probe /readyz and /healthz."""
    if "readinessProbe" not in c or "livenessProbe" not in c:
        yield cw, "needs a readiness and a liveness probe"
    elif where.removeprefix("Deployment/") in API_DEPLOYMENTS:
        if c["readinessProbe"].get("httpGet", {}).get("path") != "/readyz":
            yield cw, "readiness probe is not GET /readyz"
        if c["livenessProbe"].get("httpGet", {}).get("path") != "/healthz":
            yield cw, "liveness probe is not GET /healthz"


def worker_grace_period(by_kind):
    """The worker's grace period outlasts its graceful shutdown."""
    worker = by_kind.get("Deployment", {}).get("courier-worker")
    if not worker:
        return
    grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    config = by_kind.get("ConfigMap", {}).get("courier-config", {}).get("data") or {}
    shutdown = int(config.get("COURIER_WORKER_SHUTDOWN_SECS", 20))
    if grace <= shutdown:
        yield "Deployment/courier-worker", f"terminationGracePeriodSeconds {grace} <= COURIER_WORKER_SHUTDOWN_SECS {shutdown}"


def matching_deployments(by_kind, selector):
    """The Deployments whose pods a label selector matches (none for an empty selector)."""
    return [
        name
        for name, d in by_kind.get("Deployment", {}).items()
        if selector and all(d["spec"]["template"]["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
    ]


def services(by_kind):
    """Each Service selects some Deployment's pods, and a named targetPort is a port of theirs."""
    for name, svc in by_kind.get("Service", {}).items():
        deployments = matching_deployments(by_kind, svc["spec"].get("selector"))
        if not deployments:
            yield f"Service/{name}", "its selector matches no Deployment's pods"
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort")
            for d in deployments:
                containers = by_kind["Deployment"][d]["spec"]["template"]["spec"]["containers"]
                names = {p.get("name") for c in containers for p in c.get("ports") or []}
                if isinstance(target, str) and target not in names:
                    yield f"Service/{name}", f"targetPort {target} is not a port of Deployment/{d}"


def disruption_budgets(by_kind):
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        if not matching_deployments(by_kind, pdb["spec"]["selector"].get("matchLabels")):
            yield f"PodDisruptionBudget/{name}", "its selector matches no Deployment's pods"


def autoscalers(by_kind):
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            yield f"HorizontalPodAutoscaler/{name}", f"target {ref['kind']}/{ref['name']} is not among the resources"
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            yield f"HorizontalPodAutoscaler/{name}", "minReplicas > maxReplicas"


def required(by_kind):
    """The API and the worker each have a Deployment and an autoscaler."""
    for kind in ("Deployment", "HorizontalPodAutoscaler"):
        for name in API_DEPLOYMENTS:
            if name not in by_kind.get(kind, {}):
                yield f"{kind}/{name}", "missing"


# --- command line ---------------------------------------------------------------------------------

CHECKS = {"compose-refs": compose_refs, "k8s-consistency": k8s_consistency}


def main(argv):
    if len(argv) != 3 or argv[1] not in CHECKS:
        sys.exit(f"usage: check_deploy.py {{{'|'.join(CHECKS)}}} FILE")
    problems = CHECKS[argv[1]](argv[2])
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
