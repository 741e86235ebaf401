#!/usr/bin/env python3
"""Checks what the Kubernetes schemas cannot: the chart's own promises, on one render.

usage: chart-assertions.py RENDERED.yaml VALUES.yaml

Prints one line per failed check and exits 1 if any failed.
"""
import sys

import yaml


def main(rendered_path, values_path):
    docs = [d for d in yaml.safe_load_all(open(rendered_path)) if d]
    values = yaml.safe_load(open(values_path)) or {}
    failures = []

    def check(condition, message):
        if not condition:
            failures.append(message)

    def of_kind(kind):
        return [d for d in docs if d["kind"] == kind]

    def named(kind, suffix):
        found = [d for d in of_kind(kind) if d["metadata"]["name"].endswith(suffix)]
        return found[0] if found else None

    def env_of(container):
        return {e["name"]: e for e in container.get("env", [])}

    autoscaling = values.get("worker", {}).get("autoscaling", {}).get("enabled", False)
    migration = values.get("migration", {}).get("enabled", True)
    existing_secret = values.get("existingSecret", {}).get("name", "")
    service_monitor = values.get("serviceMonitor", {}).get("enabled", False)

    api, worker = named("Deployment", "-api"), named("Deployment", "-worker")
    check(api is not None and worker is not None, "api and worker Deployments exist")
    if api is None or worker is None:
        return failures

    for deployment in (api, worker):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext", {})
        check(pod_security.get("runAsNonRoot") is True, f"{name}: pod runAsNonRoot")
        check(
            pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{name}: seccomp RuntimeDefault",
        )
        (container,) = pod["containers"]
        security = container.get("securityContext", {})
        check(security.get("readOnlyRootFilesystem") is True, f"{name}: read-only root")
        check(security.get("allowPrivilegeEscalation") is False, f"{name}: no privilege escalation")
        check(security.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: drops ALL")
        env = env_of(container)
        drain = int(env["TRANSCODER__WORKERS__DRAIN_GRACE_SECONDS"]["value"])
        check(
            pod["terminationGracePeriodSeconds"] > drain,
            f"{name}: terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} > drain {drain}",
        )
        check(
            env["TRANSCODER__DATABASE__MIGRATE_ON_START"]["value"] == str(not migration).lower(),
            f"{name}: migrate_on_start is the opposite of migration.enabled",
        )
        database = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        if existing_secret:
            check(database["name"] == existing_secret, f"{name}: DATABASE_URL from existingSecret")
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        check({"/data", "/tmp", "/etc/transcoder"} <= mounts, f"{name}: /data, /tmp, config mounted")
        data = [v for v in pod["volumes"] if v["name"] == "data"][0]
        check("sizeLimit" in data.get("emptyDir", {}), f"{name}: data emptyDir has a sizeLimit")

    api_container = api["spec"]["template"]["spec"]["containers"][0]
    check("grpc" in api_container["readinessProbe"], "api: readiness is a native gRPC probe")
    check(
        api_container["readinessProbe"].get("grpc", {}).get("service", "") == "",
        "api: readiness asks the whole server's health (service \"\")",
    )
    check(
        api_container["livenessProbe"].get("grpc", {}).get("service") == "liveness",
        "api: liveness is a gRPC probe on the health service name liveness",
    )
    grpc_container_ports = [p["containerPort"] for p in api_container["ports"] if p["name"] == "grpc"]
    check(
        api_container["readinessProbe"].get("grpc", {}).get("port") in grpc_container_ports,
        "api: the gRPC probe targets the gRPC container port",
    )
    worker_container = worker["spec"]["template"]["spec"]["containers"][0]
    check(
        worker_container["readinessProbe"].get("httpGet", {}).get("path") == "/readyz",
        "worker: readiness is HTTP /readyz",
    )
    check(
        worker_container["livenessProbe"].get("httpGet", {}).get("path") == "/healthz",
        "worker: liveness is HTTP /healthz",
    )
    check(
        [p["name"] for p in worker_container["ports"]] == ["http"],
        "worker: HTTP port only (a worker-only process serves no gRPC)",
    )
    args = worker_container["args"]
    check(args[:3] == ["serve", "--role", "worker"], "worker: serve --role worker")
    check(api_container["args"][:3] == ["serve", "--role", "api"], "api: serve --role api")

    service = [s for s in of_kind("Service") if s["spec"].get("clusterIP") != "None"][0]
    grpc_ports = [p for p in service["spec"]["ports"] if p["name"] == "grpc"]
    check(
        grpc_ports and grpc_ports[0].get("appProtocol") == "grpc",
        "Service: grpc port has appProtocol grpc",
    )

    check(("replicas" in worker["spec"]) != autoscaling, "worker replicas set unless autoscaled")
    check(len(of_kind("HorizontalPodAutoscaler")) == int(autoscaling), "HPA only when enabled")
    check(len(of_kind("ServiceMonitor")) == int(service_monitor), "ServiceMonitor only when enabled")
    check(len(of_kind("PodDisruptionBudget")) == 2, "a PodDisruptionBudget each for api and worker")

    jobs = of_kind("Job")
    check(len(jobs) == int(migration), "migration Job only when enabled")
    for job in jobs:
        annotations = job["metadata"].get("annotations", {})
        check(
            annotations.get("helm.sh/hook") == "pre-install,pre-upgrade",
            "migration Job is a pre-install,pre-upgrade hook",
        )
        check(job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"], "Job runs migrate")

    chart_secrets = [
        s for s in of_kind("Secret") if "helm.sh/hook" not in s["metadata"].get("annotations", {})
    ]
    check(len(chart_secrets) == (0 if existing_secret else 1), "a chart Secret unless existingSecret")
    return failures


if __name__ == "__main__":
    problems = main(sys.argv[1], sys.argv[2])
    for problem in problems:
        print(f"  assertion failed: {problem}")
    sys.exit(1 if problems else 0)
