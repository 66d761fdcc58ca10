"""The probe paths every tiffin server answers, the API server and the runner sidecar alike."""

LIVENESS_PATHS = ("/healthz", "/livez")
READINESS_PATH = "/readyz"
METRICS_PATH = "/metrics"
PROBE_PATHS = (*LIVENESS_PATHS, READINESS_PATH)
# Asked every few seconds by orchestrators and Prometheus: never logged by default, never limited.
INFRASTRUCTURE_PATHS = (METRICS_PATH, *PROBE_PATHS)
LIVE_BODY = b'{"status":"live"}'
