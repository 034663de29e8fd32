"""The app-server facts the runner relies on, pinned against the real codex's own schema."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from jobstore.app_server_schema import APPROVAL_RESPONSES, DECISIONS, has_app_server, missing_facts
from jobstore.codex_cli import probe_codex
from tests.helpers import PINNED_CODEX_VERSION


def generate(real_codex: Path, folder: Path) -> Path:
    subprocess.run(
        [str(real_codex), "app-server", "generate-json-schema", "--out", str(folder)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return folder


def test_the_pinned_codex_has_every_fact(real_codex: Path, tmp_path: Path) -> None:
    info = probe_codex(str(real_codex))
    assert info.version_string == PINNED_CODEX_VERSION
    assert missing_facts(generate(real_codex, tmp_path / "schema")) == []
    assert has_app_server(info)


def test_a_schema_without_a_fact_is_not_used(real_codex: Path, tmp_path: Path) -> None:
    schema = generate(real_codex, tmp_path / "schema")
    steer = schema / "v2" / "TurnSteerParams.json"
    data = json.loads(steer.read_text())
    data["required"] = [name for name in data["required"] if name != "expectedTurnId"]
    steer.write_text(json.dumps(data))
    response = schema / APPROVAL_RESPONSES["item/commandExecution/requestApproval"]
    response.write_text(response.read_text().replace(f'"{DECISIONS["deny"]}"', '"refuse"'))
    assert missing_facts(schema) == [
        "item/commandExecution/requestApproval decision decline",
        "turn/steer expectedTurnId",
    ]
