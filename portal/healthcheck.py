"""The web container's health check: GET /api/health on the local gunicorn, 0 when it answers 200.

`python -m portal.healthcheck` (docker/compose.yaml). The request names a host the portal serves,
the first of ALLOWED_HOSTS (a leading-dot domain as the domain itself): Django refuses any other
Host with a 400, and 127.0.0.1 is not among a deployment's hosts. Django is not imported.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

URL = "http://127.0.0.1:{port}/api/health"


def host_header(allowed_hosts: str) -> str:
    """The Host to send: the first of ALLOWED_HOSTS that is a name ('*' allows any: localhost)."""
    for host in (part.strip() for part in allowed_hosts.split(",")):
        if host and host != "*":
            return host.lstrip(".")
    return "localhost"


def main() -> int:
    port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rpartition(":")[2] or "8000"
    request = urllib.request.Request(
        URL.format(port=port),
        # /api/health is exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT)
        headers={"Host": host_header(os.environ.get("ALLOWED_HOSTS", "localhost"))},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"health check: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
