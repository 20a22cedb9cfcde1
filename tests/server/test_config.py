"""Configuration: discovery, layering, strict validation with key paths, key handling, defaults.

Every test passes an explicit env, cwd, home and managed path (tmp dirs), never the real ones.
Expected problem lines are written by hand from the messages docs/configuration.md promises.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from anthroxy.errors import UnknownModel
from anthroxy.routing.catalog import CATALOG
from anthroxy_server.config import (
    Config,
    ConfigError,
    ProviderConfig,
    ServerConfig,
    find_config_files,
    load_settings,
    settings_from_config,
)

REPO = Path(__file__).resolve().parents[2]
MOCK = '[providers.mock]\napi = "chat"\nbase_url = "http://127.0.0.1:9/v1"\nauth = "none"\n'


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    os.chmod(path, mode)
    return path


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    cwd, home = tmp_path / "project", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    return {"cwd": cwd, "home": home, "managed": tmp_path / "etc" / "config.toml", "tmp": tmp_path}


def load(places: dict[str, Path], env: dict[str, str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return load_settings(
        env=env or {},
        cwd=places["cwd"],
        home=places["home"],
        managed_path=places["managed"],
        **kw,  # type: ignore[arg-type]
    )


def problems(places: dict[str, Path], **kw: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(places, **kw)  # type: ignore[arg-type]
    return info.value.problems


# --- discovery --------------------------------------------------------------------------------


def test_discovery_explicit_file_alone_else_every_layer(places: dict[str, Path]) -> None:
    cwd, home, tmp = places["cwd"], places["home"], places["tmp"]
    cli = write(tmp / "cli.toml", "")
    from_env = write(tmp / "env.toml", "")
    project = write(cwd / ".anthroxy" / "config.toml", "")
    xdg = write(tmp / "xdg" / "anthroxy" / "config.toml", "")
    dot_config = write(home / ".config" / "anthroxy" / "config.toml", "")
    managed = write(places["managed"], "")
    env = {"ANTHROXY_CONFIG": str(from_env), "XDG_CONFIG_HOME": str(tmp / "xdg")}

    def found(cli_path: str | None, env: dict[str, str]) -> list[Path]:
        return find_config_files(
            cli_path=cli_path, env=env, cwd=cwd, home=home, managed_path=places["managed"]
        )

    # An explicit file is read alone: no project, user or managed file under or over it.
    assert found(str(cli), env) == [cli]
    assert found(None, env) == [from_env]
    del env["ANTHROXY_CONFIG"]
    # Otherwise every layer that exists, lowest precedence first (ccproxy's order).
    assert found(None, env) == [xdg, project, managed]
    del env["XDG_CONFIG_HOME"]
    assert found(None, env) == [dot_config, project, managed]
    # XDG Base Directory spec: a relative $XDG_CONFIG_HOME is ignored.
    assert found(None, {"XDG_CONFIG_HOME": "relative/dir"}) == [dot_config, project, managed]
    project.unlink()
    managed.unlink()
    assert found(None, {}) == [dot_config]
    dot_config.unlink()
    assert found(None, {}) == []


def test_relative_cli_path_is_taken_from_cwd(places: dict[str, Path]) -> None:
    target = write(places["cwd"] / "mine.toml", "")
    assert find_config_files(
        cli_path="mine.toml", env={}, cwd=places["cwd"], home=places["home"],
        managed_path=places["managed"],
    ) == [target]  # fmt: skip


def test_managed_file_can_be_moved_by_its_variable(places: dict[str, Path]) -> None:
    user = write(places["home"] / ".config" / "anthroxy" / "config.toml", "")
    moved = write(places["tmp"] / "elsewhere" / "managed.toml", "")
    write(places["managed"], "")
    env = {"ANTHROXY_MANAGED_CONFIG": str(moved)}
    assert find_config_files(
        cli_path=None, env=env, cwd=places["cwd"], home=places["home"],
        managed_path=places["managed"],
    ) == [user, moved]  # fmt: skip


def test_explicit_file_that_does_not_exist_is_an_error(places: dict[str, Path]) -> None:
    # A typo in --config must not silently fall back to another file (or to no file).
    write(places["cwd"] / ".anthroxy" / "config.toml", "")
    missing = places["tmp"] / "nope.toml"
    assert problems(places, cli_path=str(missing)) == [f"{missing}: configuration file not found"]
    assert problems(places, env={"ANTHROXY_CONFIG": str(missing)}) == [
        f"{missing}: configuration file not found"
    ]


# --- layering ---------------------------------------------------------------------------------


def test_managed_overrides_user_key_by_key_and_cli_overrides_both(places: dict[str, Path]) -> None:
    user = write(
        places["cwd"] / ".anthroxy" / "config.toml",
        MOCK + '[server]\nhost = "127.0.0.2"\nport = 9000\nlog_level = "debug"\n'
        '[tiers]\ndefault = "mock/small"\n',
    )
    managed = write(
        places["managed"],
        "[server]\nport = 9100\n[providers.mock]\nread_timeout = 42.0\n",
    )
    settings = load(places)
    server = settings.config.server
    assert (server.host, server.port, server.log_level) == ("127.0.0.2", 9100, "debug")
    # Tables merge key by key: the user's mock keeps its api/base_url, managed adds a timeout.
    assert settings.providers["mock"].base_url == "http://127.0.0.1:9/v1"
    assert settings.providers["mock"].read_timeout == 42.0
    assert settings.sources == [str(user), str(managed)]
    assert settings.origins["server.port"] == str(managed)
    assert settings.origins["server.host"] == str(user)
    assert settings.origins["providers.mock.read_timeout"] == str(managed)

    settings = load(places, overrides={"server.host": "0.0.0.0", "server.port": 9200})
    assert (settings.config.server.host, settings.config.server.port) == ("0.0.0.0", 9200)
    assert settings.origins["server.port"] == "command line"
    assert settings.config.server.log_level == "debug"


LAYER_USER = """
[server]
port = 9000
log_level = "debug"

[providers.mock]
api = "chat"
base_url = "http://127.0.0.1:9/v1"
auth = "none"
models = ["small", "big"]
read_timeout = 30.0

[providers.other]
api = "anthropic"
base_url = "http://127.0.0.1:10"
auth = "none"

[tiers]
default = "mock/small"
opus = "other/o1"
"""
# A project file that sets only what differs in this project.
LAYER_PROJECT = """
[tiers]
default = "mock/big"
sonnet = "mock/big"

[providers.mock]
models = ["big"]
connect_timeout = 3.0
"""
LAYER_MANAGED = """
[server]
port = 9100

[providers.mock]
read_timeout = 42.0
"""


def three_layers(places: dict[str, Path]) -> tuple[Path, Path, Path]:
    return (
        write(places["home"] / ".config" / "anthroxy" / "config.toml", LAYER_USER),
        write(places["cwd"] / ".anthroxy" / "config.toml", LAYER_PROJECT),
        write(places["managed"], LAYER_MANAGED),
    )


def test_managed_over_project_over_user_key_by_key(places: dict[str, Path]) -> None:
    user, project, managed = three_layers(places)
    settings = load(places)
    assert settings.sources == [str(user), str(project), str(managed)]
    # The project's [tiers] keeps the user's providers; tiers merge key by key too.
    assert set(settings.providers) == {"mock", "other"}
    assert dict(settings.config.tiers) == {
        "default": "mock/big", "sonnet": "mock/big", "opus": "other/o1",
    }  # fmt: skip
    mock = settings.providers["mock"]
    assert mock.base_url == "http://127.0.0.1:9/v1"  # user
    assert mock.models == ("big",)  # an array replaces the one below, it is not appended to
    assert mock.connect_timeout == 3.0  # project
    assert mock.read_timeout == 42.0  # managed over user
    assert (settings.config.server.port, settings.config.server.log_level) == (9100, "debug")
    origins = settings.origins
    assert origins["providers.mock.base_url"] == str(user)
    assert origins["providers.mock.models"] == str(project)
    assert origins["providers.mock.read_timeout"] == str(managed)
    assert origins["tiers.opus"] == str(user)
    assert origins["tiers.default"] == str(project)
    assert origins["server.port"] == str(managed)
    assert settings.routing.resolve("claude-opus-4-6").provider == "other"
    assert settings.routing.resolve("claude-sonnet-4-6").model == "big"


def test_config_show_and_path_name_the_file_of_each_value(places: dict[str, Path]) -> None:
    import io

    from anthroxy_server.cli import dispatch
    from anthroxy_server.config.paths import Locations

    user, project, managed = three_layers(places)
    env = {"ANTHROXY_MANAGED_CONFIG": str(managed)}
    loc = Locations(env=env, home=places["home"], cwd=places["cwd"])
    out, err = io.StringIO(), io.StringIO()
    assert dispatch.run(["config", "show"], loc, io.StringIO(), out, err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == f"# files read: {user}, {project}, {managed}"

    def source(key: str) -> str:
        (line,) = [x for x in lines if x.startswith(f"{key} = ")]
        return line.rsplit("# ", 1)[1]

    assert source("server.port") == str(managed)
    assert source("server.log_level") == str(user)
    assert source("tiers.default") == str(project)
    assert source("providers.mock.models") == str(project)
    assert source("providers.mock.base_url") == str(user)

    out = io.StringIO()
    assert dispatch.run(["config", "path"], loc, io.StringIO(), out, err) == 0
    read = [x.split()[-1] for x in out.getvalue().splitlines() if x.strip().startswith("read ")]
    assert read == [str(user), str(project), str(managed)]

    # --config FILE: that file alone, not layered over or under anything.
    alone = write(places["tmp"] / "alone.toml", MOCK + '[tiers]\ndefault = "mock/solo"\n')
    out = io.StringIO()
    code = dispatch.run(["config", "show", "--config", str(alone)], loc, io.StringIO(), out, err)
    assert code == 0, err.getvalue()
    assert out.getvalue().splitlines()[0] == f"# files read: {alone}"
    assert "server.port = 8082" in out.getvalue()


def test_auth_token_variable_sits_over_the_files(places: dict[str, Path]) -> None:
    write(places["cwd"] / ".anthroxy" / "config.toml", MOCK + '[server]\nauth_token = "file"\n')
    settings = load(places, {"ANTHROXY_AUTH_TOKEN": " from-env "})
    assert settings.config.server.auth_token == "from-env"
    assert settings.origins["server.auth_token"] == "env:ANTHROXY_AUTH_TOKEN"


def test_metrics_token_variable_sits_over_the_files(places: dict[str, Path]) -> None:
    write(places["cwd"] / ".anthroxy" / "config.toml", MOCK + '[server]\nmetrics_token = "f"\n')
    settings = load(places, {"ANTHROXY_METRICS_TOKEN": " scrape-env "})
    assert settings.config.server.metrics_token == "scrape-env"
    assert settings.origins["server.metrics_token"] == "env:ANTHROXY_METRICS_TOKEN"


def test_overrides_are_validated_like_file_values(places: dict[str, Path]) -> None:
    assert problems(places, overrides={"server.port": "9000"}) == [
        'server.port: expected an integer, got "9000"'
    ]


# --- validation: every problem, one line each, naming its key path ----------------------------


def test_unknown_keys_name_their_path_and_suggest(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + 'base_ur = "x"\n[server]\nprot = 1\n[routng]\n',
    )
    assert sorted(problems(places, cli_path=str(cfg))) == [
        'providers.mock.base_ur: unknown key (did you mean "base_url"?)',
        'routng: unknown key (did you mean "routing"?)',
        'server.prot: unknown key (did you mean "port"?)',
    ]


def test_wrong_types_are_all_reported(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + 'read_timeout = "soon"\nmodels = "gpt-4o"\nheaders = {x-team = 7}\n'
        '[server]\nport = true\nlog_format = "xml"\nlog_request_body = "yes"\n'
        '[providers.other]\n[aliases]\nfast = ["mock/a"]\n',
    )
    assert sorted(problems(places, cli_path=str(cfg))) == [
        "aliases.fast: expected a string, got an array",
        "providers.mock.headers.x-team: expected a string, got 7",
        'providers.mock.models: expected an array, got "gpt-4o"',
        'providers.mock.read_timeout: expected a number, got "soon"',
        # Found behind the type errors, in the same run (config check lists every problem).
        'providers.other.api: required for a provider not in the catalogue (one of "anthropic", '
        '"chat", "responses")',
        "providers.other.base_url: required for a provider not in the catalogue",
        "providers.other: no API key found: set a variable named by api_key_env "
        '(or set auth = "none" for a server without keys)',
        'server.log_format: expected one of "text", "json", got "xml"',
        'server.log_request_body: expected true or false, got "yes"',
        "server.port: expected an integer, got true",
    ]


def test_problems_behind_a_structure_error_are_listed_in_the_same_run(
    places: dict[str, Path],
) -> None:
    """An unknown ``tiers.sonet`` used to stay hidden until the ``[server]`` errors were fixed."""
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + '[server]\nhots = "x"\nport = 0\n[tiers]\nsonet = "mock/a"\nopus = "nope/a"\n',
    )
    assert sorted(problems(places, cli_path=str(cfg))) == [
        'server.hots: unknown key (did you mean "host"?)',
        "server.port: must be between 1 and 65535, got 0",
        "tiers.opus: target 'nope/a' names provider 'nope', which is not configured; "
        "configured providers: mock",
        'tiers.sonet: unknown key (did you mean "sonnet"?)',
    ]


def test_a_table_where_a_value_belongs_and_vice_versa(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", 'server = "fast"\nproviders = {mock = 5}\n')
    assert sorted(problems(places, cli_path=str(cfg))) == [
        "providers.mock: expected a table, got 5",
        'server: expected a table, got "fast"',
    ]


def test_numbers_are_range_checked(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + "connect_timeout = 0\nread_timeout = -1.5\n"
        '[server]\nport = 70000\nping_interval = 0\nmax_body_bytes = 0\nlog_level = "loud"\n',
    )
    assert sorted(problems(places, cli_path=str(cfg))) == [
        "providers.mock.connect_timeout: must be > 0 seconds, got 0.0",
        "providers.mock.read_timeout: must be > 0 seconds, got -1.5",
        'server.log_level: expected one of debug, info, warning, error, critical, got "loud"',
        "server.max_body_bytes: must be > 0, got 0",
        "server.ping_interval: must be > 0 seconds, got 0.0",
        "server.port: must be between 1 and 65535, got 70000",
    ]


def test_custom_provider_needs_api_and_base_url(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", '[providers.mine]\nauth = "none"\n')
    assert problems(places, cli_path=str(cfg)) == [
        "providers.mine.api: required for a provider not in the catalogue "
        '(one of "anthropic", "chat", "responses")',
        "providers.mine.base_url: required for a provider not in the catalogue",
    ]


def test_bad_provider_id_and_url(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        '[providers."a/b"]\napi = "chat"\nbase_url = "ftp://x"\nauth = "none"\n',
    )
    assert problems(places, cli_path=str(cfg)) == [
        "providers.a/b: provider id may hold only letters, digits, '-' and '_'",
        "providers.a/b.base_url: must start with http:// or https://, got 'ftp://x'",
    ]


def test_profile_overrides_are_checked_against_provider_profile(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + '[providers.mock.profile]\nmax_tokens_fild = "x"\nreasoning_param = "loud"\n'
        'tool_name_max = "64"\n',
    )
    assert problems(places, cli_path=str(cfg)) == [
        'providers.mock.profile.max_tokens_fild: unknown key (did you mean "max_tokens_field"?)',
        'providers.mock.profile.reasoning_param: expected one of "none", "reasoning_effort", '
        '"openrouter", "deepseek", got "loud"',
        'providers.mock.profile.tool_name_max: expected an integer, got "64"',
    ]


def test_profile_overrides_apply_on_top_of_the_catalogue_profile(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        '[providers.openrouter.profile]\nuser_max = 100\ndrop_betas = ["a", "b"]\n',
    )
    profile = (
        load(places, {"OPENROUTER_API_KEY": "k"}, cli_path=str(cfg)).providers["openrouter"].profile
    )
    assert profile.user_max == 100
    assert profile.drop_betas == ("a", "b")
    # Untouched fields keep the catalogue's values.
    assert profile.reasoning_param == CATALOG["openrouter"].profile.reasoning_param == "openrouter"


def test_bad_routing_targets_are_reported_with_their_key(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + '[tiers]\nopus = "nowhere/big"\nsonet = "mock/a"\nhaiku = "mock/small"\n'
        '[aliases]\n"fast.one" = "gpt-unknown"\n',
    )
    lines = problems(places, cli_path=str(cfg))
    assert len(lines) == 3
    assert lines[0] == 'tiers.sonet: unknown key (did you mean "sonnet"?)'
    assert lines[1].startswith("tiers.opus: target 'nowhere/big' names provider 'nowhere'")
    assert lines[2].startswith("aliases.\"fast.one\": target 'gpt-unknown'")


def test_toml_syntax_error_names_file_line_and_column(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", '[server]\nport = 8082\nhost = = "x"\n')
    (line,) = problems(places, cli_path=str(cfg))
    assert line.startswith(f"{cfg}: invalid TOML: ")
    assert line.endswith("(at line 3, column 8)")


def test_problems_from_several_providers_are_collected(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", '[providers.groq]\n[providers.mine]\napi = "chat"\n')
    assert problems(places, cli_path=str(cfg)) == [
        "providers.groq: no API key found: set GROQ_API_KEY",
        "providers.mine.base_url: required for a provider not in the catalogue",
        "providers.mine: no API key found: set a variable named by api_key_env "
        '(or set auth = "none" for a server without keys)',
    ]


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        (
            '[providers.groq]\napi_key = "gsk-from-file"\n',
            "providers.groq.api_key",
            "a key: export it and name the variable in api_key_env",
        ),
        (
            MOCK + '[server]\nauth_token = "gsk-from-file"\n',
            "server.auth_token",
            "the token: export ANTHROXY_AUTH_TOKEN",
        ),
        (
            MOCK + '[server]\nmetrics_token = "gsk-from-file"\n',
            "server.metrics_token",
            "the metrics token: export ANTHROXY_METRICS_TOKEN",
        ),
    ],
)
def test_a_secret_in_a_readable_file_is_refused(
    places: dict[str, Path], text: str, key: str, fix: str
) -> None:
    # One rule for every secret: the provider's key and the server's token alike.
    cfg = write(places["tmp"] / "c.toml", text, mode=0o644)
    assert problems(places, cli_path=str(cfg)) == [
        f"{cfg}: other users can read this file, which holds {key}; run `chmod 600 {cfg}`, "
        f"or move it out of the file ({fix})"
    ]
    os.chmod(cfg, 0o640)  # the group counts as others
    assert len(problems(places, cli_path=str(cfg))) == 1

    os.chmod(cfg, 0o600)
    settings = load(places, cli_path=str(cfg))
    if key.startswith("server."):
        assert getattr(settings.config.server, key[7:]) == "gsk-from-file"
    else:
        provider = settings.providers["groq"]
        assert (provider.api_key, provider.key_source) == ("gsk-from-file", "file")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_readable_project_file_is_checked_like_any_layer(places: dict[str, Path]) -> None:
    write(places["home"] / ".config" / "anthroxy" / "config.toml", MOCK)
    project = write(
        places["cwd"] / ".anthroxy" / "config.toml", '[server]\nauth_token = "t0k"\n', 0o644
    )
    (line,) = problems(places)
    assert line.startswith(f"{project}: other users can read this file, which holds server.auth")
    assert "t0k" not in line
    # Several secrets in one file: one line naming each, with the fix for each kind.
    project.write_text('[server]\nauth_token = "t0k"\n[providers.groq]\napi_key = "k"\n')
    assert problems(places) == [
        f"{project}: other users can read this file, which holds server.auth_token and "
        f"providers.groq.api_key; run `chmod 600 {project}`, or move them out of the file (the "
        "token: export ANTHROXY_AUTH_TOKEN; a key: export it and name the variable in api_key_env)"
    ]
    # An empty token is no secret: it turns the check off, and the example file holds one.
    project.write_text('[server]\nauth_token = ""\n')
    assert load(places).config.server.auth_token == ""


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_readable_file_without_api_key_is_fine(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", '[providers.groq]\napi_key_env = "MY_GROQ"\n', mode=0o644)
    provider = load(places, {"MY_GROQ": "k"}, cli_path=str(cfg)).providers["groq"]
    assert (provider.api_key, provider.key_source) == ("k", "env:MY_GROQ")


def test_key_lookup_order(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", '[providers.groq]\napi_key = "from-file"\n')
    env = {"GROQ_API_KEY": "  from-catalogue-var\n"}
    provider = load(places, env, cli_path=str(cfg)).providers["groq"]
    # Catalogue variable beats the file; surrounding whitespace of a pasted key is dropped.
    assert (provider.api_key, provider.key_source) == ("from-catalogue-var", "env:GROQ_API_KEY")
    # An empty variable counts as absent: the file's key is used.
    provider = load(places, {"GROQ_API_KEY": " "}, cli_path=str(cfg)).providers["groq"]
    assert provider.key_source == "file"


def test_secrets_never_appear_in_repr(places: dict[str, Path]) -> None:
    secret, token = "sk-very-secret-123", "proxy-token-456"
    cfg = write(
        places["tmp"] / "c.toml",
        f'[server]\nauth_token = "{token}"\n[providers.mine]\napi = "chat"\n'
        f'base_url = "http://127.0.0.1:9/v1"\napi_key = "{secret}"\n',
    )
    settings = load(places, cli_path=str(cfg))
    assert settings.providers["mine"].api_key == secret
    for shown in (settings, settings.providers["mine"], settings.config, str(settings)):
        assert secret not in repr(shown)
        assert token not in repr(shown)


# --- no file: the environment decides ---------------------------------------------------------


def test_no_file_offers_providers_with_keys_plus_ollama(places: dict[str, Path]) -> None:
    settings = load(places, {"DEEPSEEK_API_KEY": "test"})
    assert settings.sources == []
    assert set(settings.providers) == {"deepseek", "ollama"}
    deepseek = settings.providers["deepseek"]
    assert deepseek.api == "anthropic"
    assert deepseek.base_url == "https://api.deepseek.com/anthropic"
    assert (deepseek.api_key, deepseek.key_source) == ("test", "env:DEEPSEEK_API_KEY")
    assert settings.providers["ollama"].auth == "none"
    model = CATALOG["deepseek"].default_model
    assert settings.config.tiers == dict.fromkeys(
        ("opus", "sonnet", "haiku", "default"), f"deepseek/{model}"
    )
    route = settings.routing.resolve("claude-sonnet-4-5-20250929")
    assert (route.provider, route.model) == ("deepseek", model)
    # Ollama is offered by name but never guessed as a tier: nobody knows which models it has.
    assert settings.routing.resolve("ollama/qwen3").provider == "ollama"


def test_no_keys_at_all_means_no_tiers_and_a_404(places: dict[str, Path]) -> None:
    settings = load(places, {})
    assert set(settings.providers) == {"ollama"}
    assert settings.config.tiers == {}
    with pytest.raises(UnknownModel):
        settings.routing.resolve("claude-sonnet-4-5")


@pytest.mark.parametrize(
    ("keys", "winner"),
    [
        (("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY"), "deepseek"),
        (("ANTHROPIC_API_KEY", "GROQ_API_KEY", "OPENAI_API_KEY"), "openai"),
        (("ANTHROPIC_API_KEY",), "anthropic"),
    ],
)
def test_default_tier_preference(
    places: dict[str, Path], keys: tuple[str, ...], winner: str
) -> None:
    settings = load(places, dict.fromkeys(keys, "k"))
    assert settings.config.tiers["default"].startswith(f"{winner}/")


def test_file_without_tiers_uses_its_first_provider(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml", MOCK + 'models = ["small", "big"]\n[providers.deepseek]\n'
    )
    settings = load(places, {"DEEPSEEK_API_KEY": "k"}, cli_path=str(cfg))
    assert settings.config.tiers["opus"] == "mock/small"
    assert set(settings.providers) == {"mock", "deepseek"}  # no discovery when [providers] exists


# --- base URLs --------------------------------------------------------------------------------


def test_base_url_env_overrides_catalogue_and_file_overrides_env(places: dict[str, Path]) -> None:
    env = {"DEEPSEEK_API_KEY": "k", "DEEPSEEK_BASE_URL": "http://127.0.0.1:7/anthropic/"}
    assert load(places, env).providers["deepseek"].base_url == "http://127.0.0.1:7/anthropic"
    cfg = write(places["tmp"] / "c.toml", '[providers.deepseek]\nbase_url = "http://127.0.0.1:8"\n')
    settings = load(places, env, cli_path=str(cfg))
    assert settings.providers["deepseek"].base_url == "http://127.0.0.1:8"


def test_catalogue_url_placeholder_missing_is_reported(places: dict[str, Path]) -> None:
    cfg = write(places["tmp"] / "c.toml", "[providers.azure]\n")
    (line,) = problems(places, env={"AZURE_API_KEY": "k"}, cli_path=str(cfg))
    assert line.startswith("providers.azure.base_url: ")
    assert "AZURE_RESOURCE_NAME" in line


# --- settings_from_config and the example file ------------------------------------------------


def test_settings_from_config_for_tests() -> None:
    config = Config(
        server=ServerConfig(port=9999),
        providers={
            "mock": ProviderConfig(api="chat", base_url="http://127.0.0.1:1/v1", auth="none")
        },
        tiers={"default": "mock/m"},
    )
    settings = settings_from_config(config, {})
    assert settings.routing.resolve("anything").model == "m"
    assert settings.providers["mock"].api_key is None
    assert settings.sources == []


def test_example_config_validates(places: dict[str, Path]) -> None:
    # A world-readable copy: the example must not need 0600, i.e. it must hold no api_key.
    example = write(
        places["tmp"] / "example.toml", (REPO / "config.example.toml").read_text(), 0o644
    )
    settings = load(
        places,
        {"DEEPSEEK_API_KEY": "test", "GROQ_API_KEY": "test", "MOCK_API_KEY": "test"},
        cli_path=str(example),
    )
    assert {"deepseek", "mock"} <= set(settings.providers)
    assert settings.providers["mock"].api == "chat"
    assert set(settings.config.tiers) == {"opus", "sonnet", "haiku", "default"}


def test_example_config_mentions_every_key() -> None:
    # "documents every key": each field of every config class appears in the example, set or
    # described in a comment, so a new key cannot land undocumented.
    import attrs

    from anthroxy_server.config import schema as c

    text = (REPO / "config.example.toml").read_text()
    classes = (
        c.ServerConfig, c.ProviderConfig, c.RoutingConfig, c.ScenarioConfig, c.RetryConfig,
        c.BreakerConfig, c.ModelConfig, c.PriceConfig,
    )  # fmt: skip
    missing = [
        f"{cls.__name__}.{field.name}"
        for cls in classes
        for field in attrs.fields(cls)
        if not re.search(rf"(^|[\s\[.#]){re.escape(field.name)}(\s*=|\]|\b)", text, re.M)
    ]
    assert not missing, f"config.example.toml does not mention: {missing}"


def test_targets_are_checked_even_when_a_provider_lacks_its_key(places: dict[str, Path]) -> None:
    # The setup wizard writes a file before the key is exported: the tiers must still be judged.
    cfg = write(
        places["tmp"] / "c.toml",
        '[providers.groq]\n[tiers]\ndefault = "groq/llama-3.1-8b-instant"\nopus = "grok/x"\n',
    )
    lines = problems(places, cli_path=str(cfg))
    assert lines[0] == "providers.groq: no API key found: set GROQ_API_KEY"
    assert lines[1].startswith("tiers.opus: target 'grok/x' names provider 'grok'")
    assert len(lines) == 2


def _doc_examples() -> list[str]:
    text = (REPO / "docs" / "configuration.md").read_text()
    return re.findall(r"```toml\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("example", _doc_examples())
def test_documented_examples_validate(places: dict[str, Path], example: str) -> None:
    # The cloud platforms' example is true once their providers are in the catalogue.
    missing = [pid for pid in ("bedrock", "vertex") if f"[providers.{pid}]" in example]
    if any(pid not in CATALOG for pid in missing):
        pytest.skip(f"providers {missing} are not in this catalogue yet")
    cfg = write(places["tmp"] / "doc.toml", example)
    env = {"DEEPSEEK_API_KEY": "test", "OPENROUTER_API_KEY": "test"}
    if "[providers.anthropic]" in example:  # only there: discovery would change the others
        env["ANTHROPIC_API_KEY"] = "test"
    settings = load(places, env, cli_path=str(cfg))
    assert settings.routing.resolve("claude-opus-4-6").rule == "tier:opus"


def test_docs_have_examples() -> None:
    # The three worked set-ups (DeepSeek, OpenRouter, Ollama) at least; more may follow.
    assert len(_doc_examples()) >= 3


def test_header_names_and_values_are_checked(places: dict[str, Path]) -> None:
    cfg = write(
        places["tmp"] / "c.toml",
        MOCK + '[providers.mock.headers]\n"Bad Name" = "x"\nX-Ok = "a\\r\\nInjected: 1"\n',
    )
    assert problems(places, cli_path=str(cfg)) == [
        "providers.mock.headers: 'Bad Name' is not a valid header name",
        "providers.mock.headers.X-Ok: value must not contain line breaks",
    ]


def test_the_key_tables_of_the_docs_name_every_key() -> None:
    import attrs

    from anthroxy_server.config.schema import ProviderConfig, ServerConfig

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.M))
    for cls in (ServerConfig, ProviderConfig):
        missing = [f.name for f in attrs.fields(cls) if f.name not in rows]
        assert missing == [], f"{cls.__name__}: {missing} not in docs/configuration.md"
