"""How the bridge says how it is, to a monitor: liveness, readiness and Prometheus metrics
over HTTP (``endpoint``), computed by ``health`` and ``metrics``."""
