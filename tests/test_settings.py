"""Settings: precedence (argument > AGENTKIT_* > config file > default), validation, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit.errors import ConfigurationError
from agentkit.settings import DEFAULT_MODEL, Settings, server_version_at_least


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    s = Settings.resolve(env={"HOME": str(tmp_path)})
    assert s.base_url is None
    assert s.model == DEFAULT_MODEL
    assert s.tool_mode == "request"
    assert s.mode == "auto"
    assert s.max_slice_nums is None
    assert s.trajectory_dir == Path("runs")
    assert (s.temperature, s.max_tokens, s.enable_thinking) == (0.0, 1024, False)
    assert (s.connect_timeout_s, s.first_token_timeout_s, s.idle_timeout_s) == (5.0, 60.0, 30.0)
    assert (s.max_retries, s.max_retry_after_s) == (3, 30.0)


def test_precedence_argument_over_env_over_file(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml",
        'model = "from-file"\nbase_url = "http://file:1/v1"\nmax_tokens = 11\nmode = "4x"\n',
    )
    env = {"AGENTKIT_MODEL": "from-env", "AGENTKIT_MAX_TOKENS": "22"}
    s = Settings.resolve(env=env, config_path=cfg, model="from-arg", max_tokens=None)
    assert s.model == "from-arg"  # argument wins
    assert s.max_tokens == 22  # None argument falls through to the environment
    assert s.base_url == "http://file:1/v1"  # only the file sets it
    assert s.mode == "4x"


def test_config_file_from_env_var_and_default_location(tmp_path: Path) -> None:
    named = write(tmp_path / "named.toml", 'model = "named"\n')
    assert Settings.resolve(env={"AGENTKIT_CONFIG": str(named)}).model == "named"
    default = tmp_path / "xdg" / "agentkit" / "config.toml"
    default.parent.mkdir(parents=True)
    write(default, 'model = "xdg"\n')
    assert Settings.resolve(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).model == "xdg"
    home_cfg = tmp_path / "home" / ".config" / "agentkit" / "config.toml"
    home_cfg.parent.mkdir(parents=True)
    write(home_cfg, 'model = "home"\n')
    assert Settings.resolve(env={"HOME": str(tmp_path / "home")}).model == "home"
    # An explicit path beats AGENTKIT_CONFIG.
    other = write(tmp_path / "other.toml", 'model = "explicit"\n')
    assert (
        Settings.resolve(env={"AGENTKIT_CONFIG": str(named)}, config_path=other).model == "explicit"
    )


def test_env_values_are_typed() -> None:
    env = {
        "AGENTKIT_BASE_URL": "http://127.0.0.1:8000/v1/",
        "AGENTKIT_ENABLE_THINKING": "yes",
        "AGENTKIT_IDLE_TIMEOUT_S": "2.5",
        "AGENTKIT_MAX_SLICE_NUMS": "36",
        "AGENTKIT_TOTAL_TIMEOUT_S": "none",
        "AGENTKIT_TRAJECTORY_DIR": "/tmp/r",
    }
    s = Settings.resolve(env=env)
    assert s.base_url == "http://127.0.0.1:8000/v1"  # trailing slash dropped
    assert s.enable_thinking is True
    assert s.idle_timeout_s == 2.5
    assert s.max_slice_nums == 36
    assert s.total_timeout_s is None
    assert s.trajectory_dir == Path("/tmp/r")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"AGENTKIT_MAX_RETRIES": "three"}, "AGENTKIT_MAX_RETRIES"),
        ({"AGENTKIT_ENABLE_THINKING": "maybe"}, "true or false"),
        ({"AGENTKIT_MODE": "4X"}, "'16x' or '4x'"),
        ({"AGENTKIT_TOOL_MODE": "auto"}, "'request' or 'prompt'"),
        ({"AGENTKIT_BASE_URL": "127.0.0.1:8000"}, "http://"),
        ({"AGENTKIT_IDLE_TIMEOUT_S": "0"}, "greater than 0"),
        ({"AGENTKIT_MAX_RETRIES": "-1"}, "negative"),
        ({"AGENTKIT_IDLE_TIMEOUT_S": "nan"}, "finite"),
    ],
)
def test_bad_env_values_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve(env=env)
    message = str(info.value)
    assert needle in message
    assert "environment AGENTKIT_" in message


def test_bad_config_file_values_name_the_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'max_tokens = "lots"\n')
    with pytest.raises(
        ConfigurationError, match=r"c\.toml: max_tokens='lots': expected an integer"
    ):
        Settings.resolve(env={}, config_path=cfg)
    typo = write(tmp_path / "t.toml", "modell = 'x'\n")
    with pytest.raises(ConfigurationError, match="did you mean 'model'"):
        Settings.resolve(env={}, config_path=typo)
    broken = write(tmp_path / "b.toml", "model = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        Settings.resolve(env={}, config_path=broken)


def test_missing_config_files_are_errors_only_when_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AGENTKIT_CONFIG"):
        Settings.resolve(env={"AGENTKIT_CONFIG": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigurationError, match="config_path"):
        Settings.resolve(env={}, config_path=tmp_path / "nope.toml")
    # The default location is optional.
    assert Settings.resolve(env={"HOME": str(tmp_path)}).model == DEFAULT_MODEL


def test_bad_arguments_and_unknown_names() -> None:
    with pytest.raises(ConfigurationError, match="argument: max_tokens"):
        Settings.resolve(env={}, max_tokens=0)
    with pytest.raises(ConfigurationError, match="did you mean 'base_url'"):
        Settings.resolve(env={}, base_ulr="http://x")
    with pytest.raises(ConfigurationError):
        Settings(temperature=True)  # a bool is not a number here


def test_api_key_never_shown() -> None:
    s = Settings.resolve(env={"AGENTKIT_API_KEY": "sk-very-secret"})
    assert s.api_key == "sk-very-secret"
    assert "sk-very-secret" not in repr(s)
    assert "sk-very-secret" not in str(s.to_dict())
    assert s.to_dict()["api_key"] == "***"
    assert Settings().to_dict()["api_key"] is None


def test_frozen_and_replace_revalidates() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.model = "x"  # type: ignore[misc]
    assert s.replace(model="m").model == "m"
    with pytest.raises(ConfigurationError):
        s.replace(tool_mode="bogus")


def test_server_version_gates_max_slice_nums() -> None:
    assert not Settings().sends_max_slice_nums  # unknown: never risk killing a 0.22 engine
    assert not Settings(server_version="0.22.0").sends_max_slice_nums
    assert Settings(server_version="0.33").sends_max_slice_nums
    assert Settings(server_version="v1.2.3").sends_max_slice_nums
    assert server_version_at_least("0.33.0rc1", (0, 33))
    assert not server_version_at_least("garbage", (0, 0))
    with pytest.raises(ConfigurationError, match="version"):
        Settings(server_version="latest")
