# Production settings for `gunicorn -c gunicorn.conf.py tuotempo_soap.wsgi:application`.
# Plain assignments only; the application reads its own settings from TUOTEMPO_*.

# Metrics (README, "Operating"): every worker's counters add up on /metrics
# through prometheus_client's multiprocess mode. PROMETHEUS_MULTIPROC_DIR must be
# settled before the application (and prometheus_client) is loaded, so here: the
# operator's directory, or a private one that lives as long as this server.
# child_exit folds a dead worker's files into the archive; on_exit removes the
# private directory.
from tuotempo_soap.observability import multiprocess as _metrics_files

_metrics_files.use_multiprocess_dir()
child_exit = _metrics_files.child_exit
on_exit = _metrics_files.on_exit

bind = "127.0.0.1:8000"

# Spyne's XML work is CPU bound and the machine class has 2 cores: two worker
# processes. A gthread worker reads a request's header and body on a pool thread,
# so each slow client (slowloris) holds a thread until it finishes: with 16 threads
# a worker is starved by 16 slow connections, not 4 (both workers: 16 to 28, as the
# kernel spreads them). The real shield is nginx in front (deploy/nginx.conf).
workers = 2
worker_class = "gthread"
threads = 16

# Build the app (and run migrations) once in the master, then fork.
preload_app = True

timeout = 60
graceful_timeout = 30
# Longer than the idle keepalive_timeout of deploy/nginx.conf's upstream (4 s), so
# nginx never sends a request on a connection gunicorn is closing.
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000

# Request line, status, size, duration and request id; never bodies (patient
# data). With TUOTEMPO_LOG_FORMAT=json (the default) every line, these and
# gunicorn's own, is a JSON object with the same fields (web/accesslog.py).
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms id=%({x-request-id}o)s'
# Logs the route of an answer link, not its token, and no query values.
logger_class = "tuotempo_soap.web.accesslog.AccessLogger"

# X-Forwarded-Proto (wsgi.url_scheme) is believed only from the local proxy; the
# app has its own TUOTEMPO_TRUSTED_PROXY_HOPS / TUOTEMPO_TRUSTED_PROXIES for the rest.
forwarded_allow_ips = "127.0.0.1,::1"

limit_request_line = 8190
limit_request_fields = 100
