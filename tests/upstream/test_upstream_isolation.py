import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_upstream_package_imports_without_django():
    script = (
        "import sys, chat.upstream, chat.upstream.client, chat.upstream.errors; "
        "print('django' in sys.modules)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )

    assert result.stdout.strip() == "False"


def test_the_upstream_package_exports_its_public_api():
    import chat.upstream as upstream

    assert set(upstream.__all__) >= {
        "stream_chat",
        "ChatRequest",
        "UpstreamTarget",
        "http_client",
        "ResponseStarted",
        "ReasoningDelta",
        "AnswerDelta",
        "Usage",
        "Finish",
        "Failure",
    }
    assert all(hasattr(upstream, name) for name in upstream.__all__)
