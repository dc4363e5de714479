"""streamstash: the common library shared by the four services (installed from ``shared/``)."""

__version__ = "0.1.0"
