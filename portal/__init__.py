"""The Django project: settings, URLs, Celery app, WSGI/ASGI and API plumbing."""

from __future__ import annotations

from portal.celery import app as celery_app

__all__ = ["celery_app"]
