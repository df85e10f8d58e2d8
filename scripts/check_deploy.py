"""Courier's own checks of its deployment files, run by scripts/check-deploy under its venv.

  check_deploy.py compose-refs COMPOSE_JSON     what `docker compose config --format json` names
                                                exists: secret files, bind-mount sources,
                                                Dockerfiles and build targets; healthy-waits
                                                wait for services with a healthcheck
  check_deploy.py k8s-consistency RENDERED_YAML the rendered Kubernetes resources agree with each
                                                other: references resolve, probes, limits,
                                                non-root, grace periods, selectors

Each prints what is wrong, one line per problem, and exits 1 if anything is.
"""

import json
import os
import re
import sys

import yaml


def compose_refs(path):
    project = json.load(open(path))
    errors = []
    for name, secret in (project.get("secrets") or {}).items():
        if "file" in secret and not os.path.isfile(secret["file"]):
            errors.append(f"secret {name}: no file {secret['file']}")
    for name, service in project["services"].items():
        for volume in service.get("volumes") or []:
            if volume.get("type") == "bind" and not os.path.exists(volume["source"]):
                errors.append(f"service {name}: bind-mount source {volume['source']} does not exist")
        build = service.get("build")
        if build:
            dockerfile = os.path.join(build["context"], build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                errors.append(f"service {name}: no Dockerfile {dockerfile}")
            else:
                stages = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", open(dockerfile).read())
                if build.get("target") and build["target"] not in stages:
                    errors.append(f"service {name}: target {build['target']} is not a stage of {dockerfile} {stages}")
        for dep, how in (service.get("depends_on") or {}).items():
            if how.get("condition") == "service_healthy":
                target = project["services"][dep]
                if "healthcheck" not in target and "build" not in target:
                    errors.append(f"service {name} waits for {dep} to be healthy, which has no healthcheck")
    return errors


def k8s_consistency(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    errors = []
    def err(where, msg): errors.append(f"{where}: {msg}")
    config = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    def secret_keys(name):
        s = secrets.get(name)
        return None if s is None else set((s.get("data") or {}) | (s.get("stringData") or {}))
    def check_secret_items(where, name, items):
        keys = secret_keys(name)
        if keys is None:
            err(where, f"Secret {name} is not among the resources")
        else:
            for item in items or []:
                if item["key"] not in keys:
                    err(where, f"Secret {name} has no key {item['key']}")
    workloads = [(f"{k}/{n}", d["spec"]["template"]) for k in ("Deployment", "Job") for n, d in by_kind.get(k, {}).items()]
    for where, template in workloads:
        pod = template["spec"]
        psc = pod.get("securityContext") or {}
        if pod.get("serviceAccountName") and pod["serviceAccountName"] not in by_kind.get("ServiceAccount", {}):
            err(where, f"ServiceAccount {pod['serviceAccountName']} is not among the resources")
        for volume in pod.get("volumes") or []:
            if "secret" in volume:
                check_secret_items(where, volume["secret"]["secretName"], volume["secret"].get("items"))
            if "configMap" in volume and volume["configMap"]["name"] not in config:
                err(where, f"ConfigMap {volume['configMap']['name']} is not among the resources")
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "secret" in source:
                    check_secret_items(where, source["secret"]["name"], source["secret"].get("items"))
        for c in pod["containers"]:
            cw = f"{where} container {c['name']}"
            csc = c.get("securityContext") or {}
            if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                err(cw, "runAsNonRoot is not set")
            if csc.get("allowPrivilegeEscalation") is not False:
                err(cw, "allowPrivilegeEscalation is not false")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        err(cw, f"no {part}.{r}")
            for ref in c.get("envFrom") or []:
                if "configMapRef" in ref and ref["configMapRef"]["name"] not in config:
                    err(cw, f"ConfigMap {ref['configMapRef']['name']} is not among the resources")
            for env in c.get("env") or []:
                source = env.get("valueFrom") or {}
                if "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    if ref["key"] not in (config.get(ref["name"], {}).get("data") or {}):
                        err(cw, f"ConfigMap {ref['name']} has no key {ref['key']}")
                if "secretKeyRef" in source:
                    check_secret_items(cw, source["secretKeyRef"]["name"], [source["secretKeyRef"]])
            port_names = {p.get("name") for p in c.get("ports") or []}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in port_names:
                    err(cw, f"{probe} uses port {port}, which the container does not name")
            mounts = {m["name"] for m in c.get("volumeMounts") or []}
            missing = mounts - {v["name"] for v in pod.get("volumes") or []}
            if missing:
                err(cw, f"mounts undeclared volumes {sorted(missing)}")
            if where.startswith("Deployment/"):
                if "readinessProbe" not in c or "livenessProbe" not in c:
                    err(cw, "needs a readiness and a liveness probe")
                elif where in ("Deployment/courier-api", "Deployment/courier-worker"):
                    if c["readinessProbe"].get("httpGet", {}).get("path") != "/readyz":
                        err(cw, "readiness probe is not GET /readyz")
                    if c["livenessProbe"].get("httpGet", {}).get("path") != "/healthz":
                        err(cw, "liveness probe is not GET /healthz")
    # The worker's grace period must outlast its graceful shutdown.
    worker = by_kind.get("Deployment", {}).get("courier-worker")
    if worker:
        grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        shutdown = int((config.get("courier-config", {}).get("data") or {}).get("COURIER_WORKER_SHUTDOWN_SECS", 20))
        if grace <= shutdown:
            err("Deployment/courier-worker", f"terminationGracePeriodSeconds {grace} <= COURIER_WORKER_SHUTDOWN_SECS {shutdown}")
    def matching_pods(selector):
        return [n for n, d in by_kind.get("Deployment", {}).items()
                if selector and all(d["spec"]["template"]["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
    for name, svc in by_kind.get("Service", {}).items():
        pods = matching_pods(svc["spec"].get("selector"))
        if not pods:
            err(f"Service/{name}", "its selector matches no Deployment's pods")
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort")
            for p in pods:
                names = {pt.get("name") for c in by_kind["Deployment"][p]["spec"]["template"]["spec"]["containers"] for pt in c.get("ports") or []}
                if isinstance(target, str) and target not in names:
                    err(f"Service/{name}", f"targetPort {target} is not a port of Deployment/{p}")
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        if not matching_pods(pdb["spec"]["selector"].get("matchLabels")):
            err(f"PodDisruptionBudget/{name}", "its selector matches no Deployment's pods")
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            err(f"HorizontalPodAutoscaler/{name}", f"target {ref['kind']}/{ref['name']} is not among the resources")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            err(f"HorizontalPodAutoscaler/{name}", "minReplicas > maxReplicas")
    for kind in ("Deployment", "HorizontalPodAutoscaler"):
        for name in ("courier-api", "courier-worker"):
            if name not in by_kind.get(kind, {}):
                err(f"{kind}/{name}", "missing")
    return errors


CHECKS = {"compose-refs": compose_refs, "k8s-consistency": k8s_consistency}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: check_deploy.py {{{'|'.join(CHECKS)}}} FILE")
    problems = CHECKS[sys.argv[1]](sys.argv[2])
    print("\n".join(problems))
    sys.exit(1 if problems else 0)
