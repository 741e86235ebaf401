#!/usr/bin/env python3
"""Runs a chart render's containers as local processes, to prove the real binary accepts
what the chart hands it: the migration Job's command, then the api and worker
Deployments' args and environment (settings, Secret values, the ConfigMap's TOML file).

usage: chart-run-local.py RENDERED.yaml TRANSCODER_BINARY DATABASE_URL

Each process must print its address line within STARTUP_SECONDS, answer /readyz with 200
(readiness is checked once before the server starts listening, so the first answer is
already the true one), and exit 0 on SIGTERM within the pod's
terminationGracePeriodSeconds. SIGTERM is sent once the process catches it (its
/proc status says so): the binary installs the handler just after the address line. Listen addresses
become 127.0.0.1:0; DATABASE_URL and the data dir are replaced by local ones.
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

STARTUP_SECONDS = 60
SIGTERM_HANDLER_SECONDS = 10


def catches_sigterm(pid):
    """Whether the process has a SIGTERM handler installed (SigCgt bit 15)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def main(rendered_path, binary, database_url):
    docs = [d for d in yaml.safe_load_all(open(rendered_path)) if d]
    with tempfile.TemporaryDirectory(prefix="chart-run-local.") as scratch:
        return run_all(docs, scratch, binary, database_url)


def run_all(docs, scratch, binary, database_url):
    config_maps = [d for d in docs if d["kind"] == "ConfigMap"]
    config_path = os.path.join(scratch, "transcoder.toml")
    with open(config_path, "w") as f:
        f.write(config_maps[0]["data"]["transcoder.toml"])
    secrets = {
        d["metadata"]["name"]: d.get("stringData", {}) for d in docs if d["kind"] == "Secret"
    }

    def environment(container):
        env = {"PATH": os.environ["PATH"], "HOME": scratch}
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = variable["value"]
                continue
            ref = variable["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is not None:
                env[variable["name"]] = value
        env["DATABASE_URL"] = database_url
        env["TRANSCODER__DATA_DIR"] = os.path.join(scratch, "data")
        if "TRANSCODER_CONFIG" in env:
            env["TRANSCODER_CONFIG"] = config_path
        return env

    failures = []
    for job in (d for d in docs if d["kind"] == "Job"):
        container = job["spec"]["template"]["spec"]["containers"][0]
        result = subprocess.run(
            [binary, *container["args"]],
            env=environment(container),
            capture_output=True,
            text=True,
            timeout=120,
        )
        print(f"  job {job['metadata']['name']}: exit {result.returncode}: {result.stdout.strip()}")
        if result.returncode != 0:
            failures.append(f"migration Job failed: {result.stderr.strip()[-500:]}")

    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        args = [
            "127.0.0.1:0" if a.startswith("0.0.0.0:") else a for a in container["args"]
        ]
        name = deployment["metadata"]["name"]
        # A file, not a pipe: an unread pipe would block a process that logs a lot.
        log = open(os.path.join(scratch, f"{name}.log"), "w+")
        process = subprocess.Popen(
            [binary, *args],
            env=environment(container),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )

        def log_tail():
            log.flush()
            log.seek(0)
            return log.read()[-800:]

        try:
            started, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
            first_line = process.stdout.readline() if started else ""
            if not first_line:
                try:  # end of output (started) means the process is exiting
                    code = process.wait(timeout=10) if started else None
                except subprocess.TimeoutExpired:
                    code = None
                if code is None:
                    process.kill()
                    what = f"no address line within {STARTUP_SECONDS} s"
                else:
                    what = f"exit {code} at start"
                failures.append(f"{name}: {what}: {log_tail()}")
                continue
            addresses = json.loads(first_line)
            with urllib.request.urlopen(f"http://{addresses['http_addr']}/readyz", timeout=5) as r:
                readiness = f"{r.status} {r.read().decode().strip()}"
            if not wait_until(lambda: catches_sigterm(process.pid), SIGTERM_HANDLER_SECONDS):
                failures.append(f"{name}: no SIGTERM handler within {SIGTERM_HANDLER_SECONDS} s")
                continue
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=pod["terminationGracePeriodSeconds"])
            print(
                f"  {name}: {' '.join(args)}: grpc {addresses['grpc_addr']}, "
                f"/readyz {readiness}, exit {code} on SIGTERM"
            )
            if code != 0:
                failures.append(f"{name}: exit {code} on SIGTERM: {log_tail()}")
        except Exception as error:  # any failure of this pod is reported, not raised
            failures.append(f"{name}: {error!r}")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    return failures


if __name__ == "__main__":
    problems = main(*sys.argv[1:4])
    for problem in problems:
        print(f"  run failed: {problem}")
    sys.exit(1 if problems else 0)
