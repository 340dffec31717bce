"""``make demo``: the reference apps, served on the embedded default (SQLite) with demo data.

Starts ``headwater serve`` on a fresh SQLite file, seeds it through the HTTP API as
an organizer would, prints the pages' URLs and a login, and serves until Ctrl-C.
"""

from __future__ import annotations

from apps.qrevent.demo import main

if __name__ == "__main__":
    main()
