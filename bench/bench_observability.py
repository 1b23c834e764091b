"""What the metrics and the request context cost per request, in microseconds.

    python bench/bench_observability.py            # this process's registry (tests, serve)
    python bench/bench_observability.py --multi    # files in a temporary PROMETHEUS_MULTIPROC_DIR

Prints the cost of one ``observe_soap_request`` (a counter and a histogram), one
``observe_batch``, one ``count_sends`` of a 50-message round, and of a request
context begun, noted and ended: the whole instrumentation of one SOAP request
is the first, the second and the last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import timeit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multi", action="store_true", help="prometheus_client's file mode")
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    directory = None
    if args.multi:  # before prometheus_client is imported, as gunicorn.conf.py does
        directory = tempfile.mkdtemp(prefix="bench-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from tuotempo_soap.observability import context, metrics

    environ: dict[str, object] = {}

    def request() -> None:
        _, token = context.begin(environ)
        context.note_operation("getReservations")
        context.note_instance("tt_bench")
        context.end(token)

    sends = [("sms-gw", "sent")] * 48 + [("sms-gw", "retry")] * 2
    cases = {
        "observe_soap_request": lambda: metrics.observe_soap_request("getReservations", None, 0.01),
        "observe_batch": lambda: metrics.observe_batch("updateReservations", 100),
        "count_sends (50 outcomes)": lambda: metrics.count_sends(sends),
        "request context": request,
    }
    mode = "multiprocess files" if args.multi else "in-process registry"
    print(f"{mode}, {args.calls} calls each")
    try:
        for label, call in cases.items():
            seconds = min(timeit.repeat(call, number=args.calls, repeat=3))
            print(f"  {label:28} {seconds / args.calls * 1e6:7.2f} us")
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
