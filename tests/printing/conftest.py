from pathlib import Path

import pytest


@pytest.fixture
def artifacts(request) -> Path:
    """Where a person can look at what the tests printed: test-artifacts/<db>/forms/ (make test keeps it)."""
    try:
        base = Path(request.config.getoption("--output"))
    except ValueError:
        base = Path("test-artifacts")
    folder = base / "forms"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
