"""The tutorial's app: a lending library, one Headwater module (``library.module:module``)."""
