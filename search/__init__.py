"""The Django app: models, services, selectors, APIs, pages, tasks and management commands."""
