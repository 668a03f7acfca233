"""The TLS context every httpx client of the suite shares.

httpx builds a TLS context for each client it makes, loading the CA bundle (about 30 ms of CPU),
even for plain HTTP. The tests make thousands of clients to the servers they start (a new one per
poll in many waits): built once here, that tenth of the suite's CPU goes back to the tests.
"""

from __future__ import annotations

import ssl
from typing import Final

LOOPBACK_TLS: Final = ssl.create_default_context()
