# Production settings for `gunicorn -c gunicorn.conf.py tuotempo_soap.wsgi:application`.
# Plain assignments only; the application reads its own settings from TUOTEMPO_*.

bind = "127.0.0.1:8000"

# Spyne's XML work is CPU bound and the machine class has 2 cores: two worker
# processes, each with a few threads so a slow database call does not stall it.
workers = 2
worker_class = "gthread"
threads = 4

# Build the app (and run migrations) once in the master, then fork.
preload_app = True

timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000

# Request line, status, size and duration; never bodies (patient data).
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'

limit_request_line = 8190
limit_request_fields = 100
