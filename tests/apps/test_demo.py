"""``make demo`` as a user runs it: a real server, seeded through the API, serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_serves_the_apps_with_demo_data(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apps.demo",
            "--data-dir",
            str(tmp_path),
            "--port",
            "0",
            "--submissions",
            "2000",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Serving"):
                break
        output = "".join(lines)
        assert "Serving" in output, output
        urls = [w for w in output.split() if w.startswith("http://127.0.0.1:")]
        assert urls, output
        base = "/".join(urls[0].split("/")[:3])
        assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready"
        # The demo seeded real data: a page of the seeded event's guests exists.
        assert any("/qrevent/" in url for url in urls), output
        assert "FormEase demo: 50 users" in output, output
        assert "submissions over 90 days" in output, output
        # The printed dashboard login opens the dashboard, with FormEase's panels on it.
        line = next(line for line in lines if "dashboard" in line)
        email, password = line.split("sign in as ")[1].rstrip(")\n").split(" / ")
        with httpx.Client(base_url=base, timeout=10) as browser:
            session = browser.post("/auth/session", json={"email": email, "password": password})
            assert session.status_code == 200, session.text
            assert browser.get("/admin").status_code == 200
            overview = browser.get("/admin/api/overview").json()["data"]
        assert "formease-user-stats" in {panel["id"] for panel in overview["panels"]}
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
