"""The README's quickstart runs as written against a real server (keeps the front door true)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ServerProcess

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_quickstart_app_and_feedback_work_as_written(server: ServerProcess,
                                                     tmp_path: Path) -> None:
    app, feedback = _python_blocks()[:2]
    assert "truecourse.init(" in app and "truecourse.feedback(" in feedback
    script = tmp_path / "app.py"
    script.write_text(app + "\n" + feedback + "\nprint(trace_id)\n")
    env = {**os.environ, "TRUECOURSE_ENDPOINT": server.base_url}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    trace_id = done.stdout.split()[-1]
    deadline = time.time() + 30
    while time.time() < deadline:
        spans = httpx.get(f"{server.base_url}/api/v1/spans",
                          params={"trace_id": trace_id}, timeout=10).json()["items"]
        if len(spans) == 2:
            break
        time.sleep(0.1)
    chat = next(s for s in spans if s["operation"] == "chat")
    assert (chat["model"], chat["input_tokens"], chat["prompt_version"]) == \
        ("gpt-4o-mini", 42, "support-v1")
    events = httpx.get(f"{server.base_url}/api/v1/events", params={"trace_id": trace_id},
                       timeout=10).json()["items"]
    assert [e["kind"] for e in events] == ["feedback"]
