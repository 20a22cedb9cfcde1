"""The Dockerfile and the Kubernetes example (docs/deploy/) checked without a container runtime.

No image is built here: the files are parsed and held to what they promise, and the container's
start is replayed on this machine (the Dockerfile's environment with /config and /state moved
into a temporary directory, its CMD's flags, its HEALTHCHECK one-liner run as written).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from anthroxy_server.config.settings import load_settings
from anthroxy_server.gateway.guard import host_allowed

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "docs" / "deploy" / "kubernetes.yaml"
FAKE_KEY = "sk-deploy-test-0123456789"
TOKEN = "deploy-test-token-0123456789"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's final stage, continuation lines joined."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        joined.append(pending.strip())
        pending = ""
    parsed = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined]
    last_from = max(i for i, (word, _) in enumerate(parsed) if word == "FROM")
    return parsed[last_from:]


def only(word: str) -> list[str]:
    return [args for name, args in instructions() if name == word]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in only("ENV"):
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def exec_form(args: str) -> list[str]:
    words = json.loads(args)
    assert isinstance(words, list), f"not the exec form: {args}"
    return [str(word) for word in words]


def exposed_port() -> int:
    (port,) = only("EXPOSE")
    return int(port.split("/")[0])


def healthcheck_command() -> list[str]:
    (check,) = only("HEALTHCHECK")
    _, _, command = check.partition(" CMD ")
    return exec_form(command.strip())


def test_the_final_stage_is_a_slim_python_image_running_as_a_numeric_non_root_user() -> None:
    (base,) = only("FROM")
    assert base.startswith(("python:3.11-slim", "python:3.12-slim")), base
    (user,) = only("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: Kubernetes' runAsNonRoot needs a uid"


def test_config_and_state_are_volumes_and_the_environment_points_into_them() -> None:
    (volume,) = only("VOLUME")
    assert set(exec_form(volume)) == {"/config", "/state"}
    env = image_env()
    assert PurePosixPath(env["ANTHROXY_CONFIG"]).parent == PurePosixPath("/config")
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "HOME"):
        assert PurePosixPath(env[name]).is_relative_to("/state"), name
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # the root filesystem may be read-only


def test_cmd_serves_on_every_interface_at_the_exposed_port() -> None:
    (cmd,) = only("CMD")
    words = exec_form(cmd)
    assert words[:4] == ["python", "-m", "anthroxy_server", "serve"]
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert int(words[words.index("--port") + 1]) == exposed_port()
    assert not any("TOKEN" in word for word in words)  # the token comes from the environment


def test_healthcheck_is_python_against_healthz_on_the_exposed_port() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{exposed_port()}/healthz" in command[2]


def test_everything_the_build_copies_is_let_through_by_dockerignore() -> None:
    allowed = {
        line[1:].strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            copied += [w for w in words[1:-1] if not w.startswith("--")]
    assert copied, "the Dockerfile copies nothing?"
    for source in copied:
        assert source.rstrip("/") in allowed, f"{source} is excluded from the build context"
        assert (ROOT / source).exists(), source


# ---------------------------------------------------------------------------------------------
# The container's start, replayed here.


def container_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The Dockerfile's ENV with /config and /state moved under tmp_path, the ConfigMap's
    config.toml as /config/config.toml, and nothing else of this machine's environment."""
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "state").mkdir(exist_ok=True)
    env = {name: moved(value, tmp_path) for name, value in image_env().items()}
    Path(env["ANTHROXY_CONFIG"]).write_text(configmap_toml())
    env["PATH"] = os.environ.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT)  # the worktree's code, as the image's installed wheel
    env["DEEPSEEK_API_KEY"] = FAKE_KEY
    env["OPENROUTER_API_KEY"] = FAKE_KEY
    env.update(extra)
    return env


def moved(value: str, tmp_path: Path) -> str:
    """``value`` with a leading /config or /state (the volumes) moved under ``tmp_path``."""
    for volume in ("/config", "/state"):
        if value == volume or value.startswith(volume + "/"):
            return str(tmp_path) + value
    return value


def serve_command(port: int) -> list[str]:
    (cmd,) = only("CMD")
    words = exec_form(cmd)
    words[words.index("--port") + 1] = str(port)
    return [sys.executable, *words[1:]]


def run_healthcheck(port: int) -> int:
    """The HEALTHCHECK one-liner exactly as written, with only the port changed."""
    command = healthcheck_command()
    code = command[2].replace(f":{exposed_port()}/", f":{port}/")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    return done.returncode


def get(port: int, path: str, host: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_container_start_answers_healthz_and_the_healthcheck_passes(tmp_path: Path) -> None:
    port = free_port()
    assert run_healthcheck(port) != 0  # nothing listens yet: the check can fail
    env = container_env(tmp_path, ANTHROXY_AUTH_TOKEN=TOKEN)
    server = subprocess.Popen(
        serve_command(port), env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while run_healthcheck(port) != 0:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server never answered /healthz"
            time.sleep(0.2)
        status, body = get(port, "/healthz")
        assert status == 200 and body["status"] == "ok"
        assert set(body) == {"status", "version", "service"}  # no details without the token
        # The Service's names pass the Host guard; another name does not.
        assert get(port, "/healthz", host=f"anthroxy:{port}")[0] == 200
        assert get(port, "/healthz", host="anthroxy.default.svc.cluster.local")[0] == 200
        assert get(port, "/healthz", host="evil.example")[0] == 403
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert FAKE_KEY not in err and TOKEN not in err
    # What the proxy writes lands in the /state volume.
    assert (tmp_path / "state" / "anthroxy" / "usage.sqlite3").exists()


def test_the_container_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        serve_command(free_port()),
        env=container_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "without server.auth_token" in done.stderr and "ANTHROXY_AUTH_TOKEN" in done.stderr


# ---------------------------------------------------------------------------------------------
# The Kubernetes example.


def manifests() -> dict[str, dict[str, Any]]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: kubernetes.yaml unchecked")
    return {doc["kind"]: doc for doc in yaml.safe_load_all(KUBERNETES.read_text())}


def configmap_toml() -> str:
    text = KUBERNETES.read_text()
    try:
        import yaml
    except ImportError:  # the block is literal: cut it out by its indentation
        block = text.split("config.toml: |\n", 1)[1].split("\n---", 1)[0]
        return "\n".join(line[4:] for line in block.splitlines()) + "\n"
    (configmap,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "ConfigMap"]
    return str(configmap["data"]["config.toml"])


def container() -> dict[str, Any]:
    (only_container,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return dict(only_container)


def container_port(port: int | str) -> int:
    if isinstance(port, int):
        return port
    (named,) = [p for p in container()["ports"] if p["name"] == port]
    return int(named["containerPort"])


def test_probes_hit_healthz_on_the_container_port() -> None:
    found = container()
    for probe in ("readinessProbe", "livenessProbe"):
        get_ = found[probe]["httpGet"]
        assert get_["path"] == "/healthz", probe
        assert container_port(get_["port"]) == exposed_port(), probe
    (service_port,) = manifests()["Service"]["spec"]["ports"]
    assert container_port(service_port["targetPort"]) == exposed_port()


def test_every_secret_key_reaches_the_container_environment() -> None:
    secret = manifests()["Secret"]
    referenced = {
        entry["name"]: entry["valueFrom"]["secretKeyRef"]
        for entry in container()["env"]
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert set(secret["stringData"]) == set(referenced)
    for name, ref in referenced.items():
        assert ref == {"name": secret["metadata"]["name"], "key": name}
    assert "ANTHROXY_AUTH_TOKEN" in referenced


def test_the_configmap_config_loads_and_lets_the_service_name_through(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(configmap_toml())
    config.chmod(0o644)  # a ConfigMap's file is readable by all: it must hold no secret
    env = dict.fromkeys(manifests()["Secret"]["stringData"], FAKE_KEY)
    settings = load_settings(cli_path=str(config), env=env, cwd=tmp_path, home=tmp_path)
    assert set(settings.providers) == {"deepseek", "openrouter"}
    server = settings.config.server
    assert server.auth_token == env["ANTHROXY_AUTH_TOKEN"]
    service = manifests()["Service"]
    name = service["metadata"]["name"]
    port = service["spec"]["ports"][0]["port"]
    assert host_allowed(f"{name}:{port}", server)
    assert host_allowed(f"{name}.default.svc.cluster.local:{port}", server)
    assert not host_allowed("evil.example", server)


def test_the_pod_runs_non_root_on_a_read_only_root_with_state_in_an_empty_dir() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (user,) = only("USER")
    assert pod["securityContext"]["runAsUser"] == int(user.split(":")[0])
    found = container()
    assert found["securityContext"]["readOnlyRootFilesystem"] is True
    assert found["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in found["volumeMounts"]}
    assert "emptyDir" in mounts["/state"]
    config_path = PurePosixPath(image_env()["ANTHROXY_CONFIG"])
    assert mounts[str(config_path.parent)]["configMap"]["name"] == "anthroxy-config"
    assert config_path.name in manifests()["ConfigMap"]["data"]
    assert found["resources"]["requests"] and found["resources"]["limits"]


def test_pods_carry_prometheus_scrape_annotations_for_metrics() -> None:
    template = manifests()["Deployment"]["spec"]["template"]
    notes = template["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert notes["prometheus.io/path"] == "/metrics"
    assert int(notes["prometheus.io/port"]) == exposed_port()
    assert manifests()["Deployment"]["spec"]["replicas"] >= 2
