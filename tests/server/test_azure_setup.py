"""`anthroxy config init` and `config check` for the azure provider: the wizard asks only what
the environment does not say, and a provider that needs azure-identity without it is reported."""

from __future__ import annotations

import io
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from anthroxy_server.cli import dispatch as cli
from anthroxy_server.config import load_settings
from anthroxy_server.config.paths import Locations

from .fake_azure import AZURE_KEY


@pytest.fixture
def no_azure_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes ``import azure.identity`` fail and find_spec report it missing.
    monkeypatch.setitem(sys.modules, "azure.identity", None)


def init_azure(tmp_path: Path, env: dict[str, str], answers: list[str]) -> tuple[str, Path, Any]:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    loc = Locations(env={"HOME": str(home), "PATH": "/usr/bin:/bin", **env}, home=home, cwd=work)
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO("\n".join(["u", "azure", *answers, "", "", "", "", ""]) + "\n")
    code = cli.run(["config", "init"], loc, stdin, out, err)
    assert code == 0, err.getvalue()
    path = home / ".config" / "anthroxy" / "config.toml"
    settings = load_settings(cli_path=str(path), env=loc.env, cwd=loc.cwd, home=loc.home)
    return out.getvalue(), path, settings


@pytest.mark.usefixtures("no_azure_identity")
def test_config_init_without_a_key_asks_the_resource_and_uses_entra(tmp_path: Path) -> None:
    out, path, settings = init_azure(tmp_path, {}, ["my res", "my-res", "my-gpt41, my-mini", ""])
    assert "try again" in out  # "my res" is no resource name
    assert tomllib.loads(path.read_text())["providers"] == {
        "azure": {
            "base_url": "https://my-res.openai.azure.com/openai/v1",
            "models": ["my-gpt41", "my-mini"],
        }
    }
    assert 'pip install "anthroxy[azure]"' in out
    assert "Cognitive Services OpenAI User" in out
    provider = settings.providers["azure"]
    assert (provider.auth, provider.api_key, provider.key_source) == ("azure", None, "entra id")
    assert tomllib.loads(path.read_text())["tiers"]["opus"] == "azure/my-gpt41"


def test_config_init_asks_only_for_the_deployments_when_the_environment_says_the_rest(
    tmp_path: Path,
) -> None:
    env = {"AZURE_RESOURCE_NAME": "my-res", "AZURE_API_KEY": AZURE_KEY}
    out, path, settings = init_azure(tmp_path, env, ["my-gpt41"])
    assert "resource's name" not in out
    assert "key found" in out
    assert tomllib.loads(path.read_text())["providers"] == {"azure": {"models": ["my-gpt41"]}}
    assert AZURE_KEY not in path.read_text()
    assert settings.providers["azure"].base_url == "https://my-res.openai.azure.com/openai/v1"


def test_config_init_takes_a_foundry_url_and_a_key_variable(tmp_path: Path) -> None:
    url = "https://my-res.services.ai.azure.com/openai/v1/"
    answers = [url, "dep", "TEAM_AZURE_KEY"]
    out, path, settings = init_azure(tmp_path, {"TEAM_AZURE_KEY": "k" * 32}, answers)
    assert "az login" not in out  # a key: no Entra ID advice
    assert tomllib.loads(path.read_text())["providers"]["azure"] == {
        "base_url": url.rstrip("/"),
        "models": ["dep"],
        "api_key_env": "TEAM_AZURE_KEY",
    }
    assert settings.providers["azure"].key_source == "env:TEAM_AZURE_KEY"


@pytest.mark.usefixtures("no_azure_identity")
def test_config_check_names_the_missing_extra(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[providers.azure]\nbase_url = "https://my-res.openai.azure.com/openai/v1"\n'
        '[providers.keyed]\napi = "chat"\nbase_url = "https://my-res.openai.azure.com/openai/v1"\n'
        'auth = "azure"\napi_key_env = "KEYED"\n'
        '[tiers]\ndefault = "azure/dep"\n'
    )
    loc = Locations(env={"HOME": str(tmp_path), "KEYED": "k" * 20}, home=tmp_path, cwd=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["config", "check", "--config", str(config)], loc, io.StringIO(), out, err)
    assert code == 2
    assert "providers.azure: provider 'azure' authenticates with a Microsoft Entra ID" in (
        err.getvalue()
    )
    assert 'pip install "anthroxy[azure]"' in err.getvalue()
    assert "providers.keyed" not in err.getvalue()  # a key needs no extra
