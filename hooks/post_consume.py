#!/usr/bin/env python3
"""Paperless-ngx post-consume script: tell dupeless about each new document.

Set in Paperless (docs/paperless-integration.md):

    PAPERLESS_POST_CONSUME_SCRIPT=/usr/src/paperless/scripts/dupeless-post-consume.py
    DUPELESS_URL=http://dupeless:8000
    DUPELESS_HOOK_TOKEN=<the token dupeless has in DUPELESS_HOOK_TOKEN>

Optional: DUPELESS_HOOK_TIMEOUT (seconds, default 5), DUPELESS_HOOK_WAIT (seconds the server may
take for the verdict, default just under the timeout; 0 = do not wait), DUPELESS_HOOK_STRICT=1
(exit 1 when dupeless cannot be told, which marks the consume task failed).

Paperless runs this synchronously after saving the document: it blocks the consumer while it
runs, so every call is bounded by the timeout. A failure prints a warning (stderr, logged at
WARNING) and exits 0, so consumption never fails because dupeless is down or slow. The one line on
stdout (logged at INFO) is the verdict when dupeless has one.

Standard library only, Python 3.9+: it runs with the Python inside the Paperless container.
Paperless 3.x passes no arguments, 2.x eight positional ones; only the environment is read.
"""

import http.client
import json
import os
import sys
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 5.0
#: Paperless' environment, variable -> key in the JSON sent to dupeless.
FIELDS = (
    ("DOCUMENT_ID", "document_id"),
    ("DOCUMENT_FILE_NAME", "file_name"),
    ("DOCUMENT_ORIGINAL_FILENAME", "original_filename"),
    ("DOCUMENT_CREATED", "created"),
    ("DOCUMENT_MODIFIED", "modified"),
    ("DOCUMENT_ADDED", "added"),
    ("DOCUMENT_SOURCE_PATH", "source_path"),
    ("DOCUMENT_ARCHIVE_PATH", "archive_path"),
    ("DOCUMENT_THUMBNAIL_PATH", "thumbnail_path"),
    ("DOCUMENT_DOWNLOAD_URL", "download_url"),
    ("DOCUMENT_THUMBNAIL_URL", "thumbnail_url"),
    ("DOCUMENT_OWNER", "owner"),
    ("DOCUMENT_CORRESPONDENT", "correspondent"),
    ("DOCUMENT_TYPE", "document_type"),
    ("DOCUMENT_TAGS", "tags"),
    ("TASK_ID", "task_id"),
)


class HookFailed(Exception):
    """dupeless could not be told (or refused); the message says why."""


def env_value(environ, name):
    """A Paperless variable: None when unset, empty or the literal string `None`."""
    value = environ.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value or value == "None":
        return None
    return value


def payload(environ, argv):
    """The JSON body: the document's facts from the environment (arguments are ignored)."""
    body = {"source": "post_consume"}
    for variable, key in FIELDS:
        body[key] = env_value(environ, variable)
    if body["tags"] is not None:
        body["tags"] = [tag.strip() for tag in body["tags"].split(",") if tag.strip()]
    else:
        body["tags"] = []
    if body["document_id"] is not None and body["document_id"].isdigit():
        body["document_id"] = int(body["document_id"])
    body["arguments"] = len(argv)
    return body


def number(environ, name, default):
    text = env_value(environ, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise HookFailed("{} must be a number of seconds, got {!r}".format(name, text)) from None
    if value < 0 or value != value:
        raise HookFailed("{} must not be negative".format(name))
    return value


def endpoint(environ, wait):
    base = env_value(environ, "DUPELESS_URL")
    if base is None:
        raise HookFailed("DUPELESS_URL is not set")
    if not base.startswith(("http://", "https://")):
        raise HookFailed("DUPELESS_URL must start with http:// or https://, got {!r}".format(base))
    url = base.rstrip("/") + "/api/v1/hooks/document-consumed"
    if wait > 0:
        url += "?wait={:g}".format(wait)
    return url


def describe_error(response_body):
    try:
        found = json.loads(response_body.decode("utf-8"))
        return found["error"]["message"]
    except Exception:
        return response_body[:200].decode("utf-8", "replace")


def notify(environ, argv):
    """Send the event; returns the line to print. Raises HookFailed."""
    body = payload(environ, argv)
    if not isinstance(body["document_id"], int):
        raise HookFailed("DOCUMENT_ID is missing or not a number: {!r}".format(body["document_id"]))
    timeout = number(environ, "DUPELESS_HOOK_TIMEOUT", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT
    wait = number(environ, "DUPELESS_HOOK_WAIT", max(0.0, timeout - 0.5))
    wait = min(wait, max(0.0, timeout - 0.5))
    token = env_value(environ, "DUPELESS_HOOK_TOKEN")
    if token is None:
        raise HookFailed("DUPELESS_HOOK_TOKEN is not set")
    url = urlsplit(endpoint(environ, wait))
    # http.client rather than urllib.request: this runs once per consumed document while the
    # consumer waits, and urllib.request's imports cost ~20 ms more of the script's start-up.
    connection_class = (
        http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    )
    document_id = body["document_id"]
    try:
        connection = connection_class(url.netloc, timeout=timeout)
        try:
            connection.request(
                "POST",
                url.path + ("?" + url.query if url.query else ""),
                body=json.dumps(body).encode("utf-8"),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Authorization": "Bearer " + token,
                    "User-Agent": "dupeless-post-consume/1",
                },
            )
            response = connection.getresponse()
            status, content = response.status, response.read()
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise HookFailed("cannot reach dupeless: {}".format(exc)) from None
    if status >= 400:
        raise HookFailed("dupeless answered HTTP {}: {}".format(status, describe_error(content)))
    try:
        answer = json.loads(content.decode("utf-8"))
    except ValueError as exc:
        raise HookFailed("dupeless answered something that is not JSON: {}".format(exc)) from None
    data = answer.get("data") or {}
    if status == 200 and data.get("line"):
        if data.get("status") == "failed":
            raise HookFailed(
                "dupeless could not check document {}: {}".format(document_id, data.get("error"))
            )
        return data["line"]
    if status == 200 and data.get("status") == "failed":
        raise HookFailed(
            "dupeless could not check document {}: {}".format(document_id, data.get("error"))
        )
    return "dupeless: document {} queued for checking (event {})".format(
        document_id, data.get("eventId")
    )


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    strict = (env_value(environ, "DUPELESS_HOOK_STRICT") or "").lower() in ("1", "true", "yes")
    try:
        line = notify(environ, argv)
    except HookFailed as exc:
        document = env_value(environ, "DOCUMENT_ID") or "?"
        action = "failing" if strict else "continuing"
        sys.stderr.write(
            "dupeless: WARNING: document {} not checked: {} ({})\n".format(document, exc, action)
        )
        return 1 if strict else 0
    except Exception as exc:  # never fail a consumption for a bug in this script
        sys.stderr.write("dupeless: WARNING: unexpected error: {!r}\n".format(exc))
        return 1 if strict else 0
    sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
