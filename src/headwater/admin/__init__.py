"""The admin dashboard every Headwater app gets, at ``/admin``.

Sign in with an account's email and password (a cookie session with a CSRF token),
then follow the node live: the admin feed (``/realtime/ws``, channel ``admin``),
charts of requests, latency, errors, event rate, projection lag, queue depth and
connections, alerts, projections with a rebuild button, jobs with retry, and the
panels the apps declare (``Module.admin_panels()``): tables, charts, review queues.

The page is plain HTML and JavaScript served by the module, with uPlot vendored for
the charts: no build step, and nothing fetched from another origin at run time.
"""

from headwater.admin._module import AdminModule
from headwater.admin._panels import Column, Filter, Panel, Series

__all__ = ["AdminModule", "Column", "Filter", "Panel", "Series"]
