"""The HTTP API (Django REST framework), one module per resource: genes, searches, signatures,
system (health, downloads); `schemas` declares every answer and error for the OpenAPI schema.
Views validate, call a selector (read) or a service (write), and shape the answer."""
