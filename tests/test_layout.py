"""The layout's promises, checked from outside: the runtime loads no simulator, the
commands that need the simulator say how to get it, the image installs none of it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Run in a fresh interpreter: this test process has long since imported moto.
LOADED = """
import sys
import bot.server.lambda_handler, bot.server.web, bot.server.runtime, bot.slack.app
print(sorted({m.split('.')[0] if m.startswith('moto') else m for m in sys.modules
              if m == 'moto' or m.startswith(('moto.', 'bot.sim'))}))
"""
# The command line in an interpreter whose path holds the project and every installed
# package but moto, as the container image has them (`python -S`: no site, no .pth files).
WITHOUT_MOTO = """
import sys
sys.path[:0] = sys.argv[1:3]
from bot.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def site_without_moto(tmp_path: Path) -> Path:
    """A folder of links to this environment's packages, moto's left out."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    folder = tmp_path / "site-packages"
    if folder.exists():
        return folder
    folder.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().startswith("moto"):
            (folder / entry.name).symlink_to(entry)
    return folder


def run(
    code: str, *args: str, tmp_path: Path, isolated: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LLM_INCIDENT_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    if isolated:
        args = (str(ROOT), str(site_without_moto(tmp_path)), *args)
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, *(["-S"] if isolated else []), "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_server_the_lambda_handler_and_the_slack_app_load_no_simulator(tmp_path):
    done = run(LOADED, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_check_itself_sees_a_simulator_import(tmp_path):
    """The probe above can fail: importing the replay module is reported."""
    done = run(LOADED.replace("bot.slack.app", "bot.slack.app, bot.sim.replay"), tmp_path=tmp_path)
    assert "bot.sim.replay" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["demo"],
        ["simulate", "--scenario", "scenarios/x.yaml", "--endpoint-url", "http://127.0.0.1:9"],
        ["investigate", "--scenario", "scenarios/x.yaml", "--offline"],
    ],
)
def test_without_the_sim_extra_simulator_commands_say_how_to_install_it(argv, tmp_path):
    done = run(WITHOUT_MOTO, *argv, tmp_path=tmp_path, isolated=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'llm-incident[sim]'" in lines[0]


def test_without_the_sim_extra_the_rest_of_the_command_line_works(tmp_path):
    """...and the interpreter above really lacks only moto: other commands run."""
    no_moto = run(
        "import sys; sys.path[:0] = sys.argv[1:3]; import moto", tmp_path=tmp_path, isolated=True
    )
    assert no_moto.returncode == 1 and "No module named 'moto'" in no_moto.stderr
    done = run(WITHOUT_MOTO, "runbooks", "throttling", tmp_path=tmp_path, isolated=True)
    assert done.returncode == 0, done.stderr
    assert "model-throttling" in done.stdout


def test_moto_is_only_in_the_sim_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("moto")]
    assert any(d.startswith("moto[server]") for d in project["optional-dependencies"]["sim"])


def test_the_container_image_installs_the_plain_package():
    """Every `pip install` of the image names the wheel with at most the postgres extra."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs
    for line in installs:
        assert "[postgres]" in line and "sim" not in line and "dev" not in line, line
        assert "moto" not in line, line
