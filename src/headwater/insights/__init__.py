"""The web face of experiments and analytics: thin routers, ``/admin`` panels and the
modules that start the cores with typed collaborators. Above ``http`` and beside
``admin`` in the layers; the cores (``headwater.experiments``, ``headwater.analytics``)
know nothing of the web."""

from headwater.insights._analytics import AnalyticsModule
from headwater.insights._experiments import ExperimentsModule

__all__ = ["AnalyticsModule", "ExperimentsModule"]
