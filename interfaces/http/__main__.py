"""`python -m interfaces.http`: the serving process that `stockroom serve` becomes
(interfaces/http/server.py)."""

import gc

# Collecting while the app's modules load frees nothing; serve_app turns it back on.
gc.disable()

from interfaces.http.server import main  # noqa: E402

main()
