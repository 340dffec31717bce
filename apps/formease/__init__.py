"""FormEase backoffice: a form-builder SaaS's admin side, on Headwater.

Who is who: the SaaS operator is a Headwater *tenant*; its staff and admins sign in
as the tenant's *accounts* (``staff`` run the backoffice, ``tenant_admin`` decide
reviews). The SaaS's customers, with their plans and roles, are *app-level users*
(``domain.users.FormUser``): they are data the backoffice manages, not principals.
Respondents submit through any signed-in principal of the tenant (e.g. an API key
of the public form runner), holding the server-issued open token of their session.

Layout: ``domain/`` (aggregates and events), ``commands.py`` (deciders, limits),
``service.py`` (what routes call), ``projections.py`` (inline read models),
``queries.py`` (reads), ``webhooks.py``, ``api/`` (routes, deps), ``demo.py``.
"""
