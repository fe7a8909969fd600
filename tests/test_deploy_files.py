"""The deployment files in ``deploy/`` say what apcert understands: every variable they set is a
setting apcert reads (or belongs to the container beside it), every command they run is an
apcert command whose options parse, the proxies send the headers the settings trust, and the
files the README names are all here. ``systemd-analyze verify`` and ``docker compose config``
check the units and the compose file where those tools can run."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class

from apcert.core.observe import HEADER as REQUEST_ID_HEADER

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
README = (ROOT / "README.md").read_text()

#: Every file of deploy/, each checked by a test below.
EXERCISED = {
    "deploy/Dockerfile",
    "deploy/entrypoint.sh",
    "deploy/compose.yaml",
    "deploy/Caddyfile",
    "deploy/.env.example",
    "deploy/systemd/apcert.service",
    "deploy/systemd/apcert-worker.service",
    "deploy/nginx/apcert.conf",
}
#: Variables for the containers beside apcert, not for apcert: PostgreSQL's and Caddy's.
NOT_APCERT = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "CADDY_DOMAIN"}
#: Variables of Python, pip and the shell that the image sets for itself.
TOOLS = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR"}
TOOLS |= {"PIP_DISABLE_PIP_VERSION_CHECK", "PATH"}


def apcert_settings() -> set[str]:
    """Every environment variable apcert reads: the names ``apcert.env`` passes to its
    readers (``os.environ.get("X")``, ``_count("X", ...)``, ...)."""
    tree = ast.parse((ROOT / "src" / "apcert" / "env.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            value = first.value if isinstance(first, ast.Constant) else None
            if isinstance(value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", value):
                names.add(value)
    return names


def env_example() -> dict[str, str]:
    """The variables of .env.example, those commented out (``#NAME=value``) included."""
    found = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match[1]] = match[2]
    return found


def active_env_example() -> dict[str, str]:
    return {k: v for k, v in env_example().items() if not _commented(k)}


def _commented(name: str) -> bool:
    text = (DEPLOY / ".env.example").read_text()
    return re.search(rf"^{name}=", text, re.MULTILINE) is None


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def parses_as_apcert_command(argv: list[str]) -> str:
    """``argv`` (a command and its options) is a real apcert command with options it takes;
    returns the command's name."""
    name, *options = argv
    commands = get_commands()
    assert name in commands, f"{name!r} is not an apcert command"
    command = load_command_class(commands[name], name)
    command.create_parser("apcert", name).parse_args(options)
    return name


def unit(name: str) -> list[tuple[str, str, str]]:
    """A systemd unit as (section, key, value) in order (a key may repeat)."""
    entries, section = [], ""
    for raw in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key, value))
    return entries


# --- the README and the folder ----------------------------------------------------------------


def test_every_deploy_file_the_readme_names_is_here_and_tested() -> None:
    named = set(re.findall(r"deploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]", README))
    assert named, "the README names no deploy file"
    # (deploy/.env is the operator's copy of the example, never in the repository)
    assert named - {"deploy/.env"} <= EXERCISED, named - EXERCISED
    on_disk = {str(p.relative_to(ROOT)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert on_disk - {"deploy/.env"} == EXERCISED


def test_every_variable_of_the_env_example_is_a_setting_listed_in_the_readme() -> None:
    known = apcert_settings()
    for name in env_example():
        if name in NOT_APCERT:
            continue
        assert name in known, f"{name} is no setting apcert reads"
        assert f"`{name}`" in README, f"{name} is not in the README"


def test_the_env_example_is_a_configuration_apcert_accepts(tmp_path: Path) -> None:
    # Given the example's settings (a SQLite database under a var directory of the test's)
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environ.update(active_env_example())
    environ["APCERT_VAR_DIR"] = str(tmp_path / "var")
    script = (
        "import json, django; django.setup()\n"
        "from django.conf import settings as s\n"
        "print(json.dumps([s.SECURE_PROXY_SSL_HEADER, s.TRUSTED_PROXY_HEADER,"
        " s.REQUEST_ID_FROM_PROXY, s.SECURE_SSL_REDIRECT, s.ALLOWED_HOSTS]))\n"
    )
    environ["DJANGO_SETTINGS_MODULE"] = "apcert.settings"
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    proto, client_header, request_id, redirect, hosts = json.loads(done.stdout)
    # Then apcert trusts the headers the proxies of deploy/ send, and the health check that
    # asks the server itself is answered
    assert proto == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert (client_header, request_id, redirect) == ("X-Forwarded-For", True, True)
    assert "127.0.0.1" in hosts


# --- the image --------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_image_installs_the_pinned_release_and_runs_unprivileged() -> None:
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [rest for word, rest in steps if word == "RUN"]
    assert any(re.search(r"pip install .*-c constraints\.txt \.", r) for r in runs)
    assert any("apcert collectstatic --noinput" in r for r in runs)
    # the static files outside the data volume, the data where the volume is
    env = dict(re.findall(r"(\w+)=(\S+)", next(rest for word, rest in steps if word == "ENV")))
    assert (env["APCERT_VAR_DIR"], env["APCERT_STATIC_ROOT"]) == (
        "/var/lib/apcert",
        "/opt/apcert/static",
    )
    assert ("VOLUME", '["/var/lib/apcert"]') in steps
    assert set(env) - apcert_settings() <= TOOLS
    # the last user is not root, and nothing runs after it but the entry point
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users and steps[users[-1]][1] not in ("root", "0")
    assert not any(word == "RUN" for word, _ in steps[users[-1] :])


def test_the_images_command_health_check_and_entry_point_are_apcerts(tmp_path: Path) -> None:
    steps = dict(dockerfile())
    cmd = json.loads(steps["CMD"])
    assert parses_as_apcert_command(cmd) == "serve"
    port = cmd[cmd.index("--port") + 1]
    check = json.loads(steps["HEALTHCHECK"].split("CMD", 1)[1])
    assert check[:2] == ["python", "-c"] and f"http://127.0.0.1:{port}/healthz" in check[2]
    assert json.loads(steps["ENTRYPOINT"]) == ["apcert-entrypoint"]
    copied = [rest for word, rest in dockerfile() if word == "COPY"]
    assert "deploy/entrypoint.sh /usr/local/bin/apcert-entrypoint" in copied
    # The entry point migrates before serving, and only then
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "apcert"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    environ = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    for argv in (cmd, ["worker"]):
        subprocess.run(  # noqa: S603 - the script under test, with a stand-in apcert
            ["/bin/sh", str(DEPLOY / "entrypoint.sh"), *argv], env=environ, check=True
        )
    assert calls.read_text().splitlines() == ["migrate --noinput", " ".join(cmd), "worker"]


# --- compose ----------------------------------------------------------------------------------


def test_compose_runs_the_app_its_worker_postgres_15_and_caddy() -> None:
    spec = compose()
    services = spec["services"]
    assert isinstance(services, dict)
    assert set(services) == {"app", "worker", "postgres", "caddy"}
    assert services["postgres"]["image"] == "postgres:15"
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    volumes = spec["volumes"]
    assert isinstance(volumes, dict) and {"postgres-data", "apcert-var"} <= set(volumes)
    app, worker = services["app"], services["worker"]
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).is_file()
    assert parses_as_apcert_command(app["command"]) == "serve"
    assert parses_as_apcert_command(worker["command"]) == "worker"
    for service in (app, worker):
        assert service["env_file"] == ".env"
        assert service["volumes"] == ["apcert-var:/var/lib/apcert"]
        assert set(service["environment"]) <= apcert_settings()
        assert service["environment"]["DATABASE_URL"].endswith("@postgres:5432/apcert")
    assert worker["depends_on"] == {"app": {"condition": "service_healthy"}}
    # Caddy reaches the app where it serves, with the Caddyfile of this folder
    port = app["command"][app["command"].index("--port") + 1]
    assert app["expose"] == [port]
    caddy = services["caddy"]
    mount = next(v for v in caddy["volumes"] if v.endswith(":/etc/caddy/Caddyfile:ro"))
    assert (DEPLOY / mount.split(":")[0]).is_file()
    assert f"reverse_proxy app:{port} " in (DEPLOY / "Caddyfile").read_text()
    # every variable compose fills in is one the example defines
    text = (DEPLOY / "compose.yaml").read_text()
    for name in set(re.findall(r"\$\{([A-Z_]+)", text)):
        assert name in active_env_example(), name


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine: the compose file is checked in Python")
    version = subprocess.run(  # noqa: S603
        [docker, "compose", "version"], capture_output=True, text=True, timeout=60
    )
    if version.returncode != 0:
        pytest.skip("this docker client has no compose plugin: checked in Python only")
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(DEPLOY / ".env.example", tmp_path / "deploy" / ".env")
    done = subprocess.run(  # noqa: S603
        [docker, "compose", "-f", str(tmp_path / "deploy" / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# --- the proxies ------------------------------------------------------------------------------


def test_the_proxies_send_what_the_settings_trust_and_keep_metrics_in() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text()
    # Caddy sets X-Forwarded-Proto and X-Forwarded-For itself, replacing the client's: the
    # file must not take them away, and it gives each request its id
    assert "-X-Forwarded" not in caddy
    assert f"header_up {REQUEST_ID_HEADER} {{http.request.uuid}}" in caddy
    assert "respond /metrics 404" in caddy
    nginx = (DEPLOY / "nginx" / "apcert.conf").read_text()
    headers = dict(re.findall(r"proxy_set_header\s+(\S+)\s+([^;]+);", nginx))
    assert headers == {
        "Host": "$host",
        "X-Forwarded-Proto": "$scheme",
        "X-Forwarded-For": "$remote_addr",
        REQUEST_ID_HEADER: "$request_id",
    }
    assert env_example()["APCERT_TRUSTED_PROXY_HEADER"] in headers
    assert re.search(r"location = /metrics \{\s*return 404;\s*\}", nginx)
    # nginx passes requests to where the systemd unit serves
    serve = next(v for s, k, v in unit("apcert.service") if k == "ExecStart").split()
    address = f"{serve[serve.index('--host') + 1]}:{serve[serve.index('--port') + 1]}"
    assert f"proxy_pass http://{address};" in nginx


# --- systemd ----------------------------------------------------------------------------------

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "yes",
}


@pytest.mark.parametrize(
    ("name", "command"), [("apcert.service", "serve"), ("apcert-worker.service", "worker")]
)
def test_the_units_run_apcert_hardened_with_their_environment_file(name: str, command: str) -> None:
    entries = unit(name)
    service = {k: v for s, k, v in entries if s == "Service"}
    assert (service["User"], service["EnvironmentFile"]) == ("apcert", "/etc/apcert/apcert.env")
    for key, value in HARDENING.items():
        assert service.get(key) == value, key
    var_dir = env_example()["APCERT_VAR_DIR"]
    assert var_dir in service["ReadWritePaths"].split()
    assert service["WorkingDirectory"] == var_dir
    commands = [shlex.split(v) for s, k, v in entries if k in ("ExecStartPre", "ExecStart")]
    for argv in commands:
        assert argv[0] == "/opt/apcert/venv/bin/apcert"
        parses_as_apcert_command(argv[1:])
    assert commands[-1][1] == command
    assert ("Install", "WantedBy", "multi-user.target") in entries


@pytest.mark.parametrize("name", ["apcert.service", "apcert-worker.service"])
def test_systemd_analyze_verifies_the_units(tmp_path: Path, name: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the units are checked in Python only")
    # The unit as installed, but running this environment's apcert with an environment file
    # of the test's: verify checks that every command it names can be run
    apcert = Path(sys.executable).parent / "apcert"
    text = (DEPLOY / "systemd" / name).read_text()
    text = text.replace("/opt/apcert/venv/bin/apcert", str(apcert))
    text = text.replace("/etc/apcert/apcert.env", str(tmp_path / "apcert.env"))
    (tmp_path / "apcert.env").write_text("")
    (tmp_path / name).write_text(text)
    done = subprocess.run(  # noqa: S603
        [analyze, "verify", str(tmp_path / name)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 and "Failed to" in done.stderr and "bus" in done.stderr.lower():
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    # Then it finds nothing to say: an unknown or misspelt option would be named
    assert (done.returncode, done.stderr.strip()) == (0, "")
