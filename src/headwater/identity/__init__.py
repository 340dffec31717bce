"""Who is acting, for which tenant, and what they may follow.

The principal and its roles, the tenant context of the work in progress, the
security streams nobody may read through the tenant's store or a channel, and the
one channel registry. Realtime, cache keys and rate-limit keys need these; they sit
here, below those services and above only the event store, so no service has to
import the security service (or the web layer above it) to know who is calling.
"""
