"""How an attachment goes out: always as a download, never rendered by the browser. The
caller has fetched it with `selectors.access_attachment` (404 for anyone who may not
see the incident, and for anything not yet scanned)."""

from django.http import FileResponse


def attachment_response(attachment):
    response = FileResponse(
        attachment.file.open("rb"), as_attachment=True, filename=attachment.name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Should a browser render it after all, it runs nothing and loads nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    return response
