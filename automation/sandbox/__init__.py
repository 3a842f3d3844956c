"""A local Microsoft 365 sandbox: identity and a Graph v1.0 subset over HTTPS.

Production code never knows it talks to this: it is configured by URLs like any tenant.
"""

from __future__ import annotations
