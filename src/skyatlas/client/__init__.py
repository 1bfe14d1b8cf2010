"""A small, typed HTTP client for a skyatlas server (both API dialects).

```python
from skyatlas.client import Client

with Client("http://127.0.0.1:8000", token) as client:
    client.call("inventory", "region", "list", {})
    for resource in client.paginate("inventory", "cloud-service"):
        ...
    client.explorer.search("service=EC2&tag.key=env&tag.value=prod")
```

The `skyatlas` command is built on it.
"""

from skyatlas.client._client import READ_VERBS, Client
from skyatlas.client._errors import APIError, ClientError, ConnectionFailed
from skyatlas.client._explorer import MAX_SEARCH_LIMIT, Explorer

__all__ = [
    "MAX_SEARCH_LIMIT",
    "READ_VERBS",
    "APIError",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "Explorer",
]
