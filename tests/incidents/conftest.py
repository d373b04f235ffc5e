import pytest


@pytest.fixture
def media(settings, tmp_path):
    """Attachments stored under a fresh folder, with no virus scanner; returns the folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ATTACHMENT_SCANNER = ""
    return settings.MEDIA_ROOT
