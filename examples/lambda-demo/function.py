"""A Lambda function that pushes Prometheus metrics to gravel-extension.

The extension listens on localhost:9091 (the Pushgateway's port), so this is the
usual prometheus_client push code with the host changed to localhost. Each
invocation uses a fresh registry and `pushadd_to_gateway` (POST): counters add up
at the gateway, gauges keep the latest value, and `clearmode="family"` replaces
the whole version family. The push returns in well under a millisecond; the
extension ships the invocation's pushes as one batch before Lambda freezes the
sandbox.
"""

import os
import random
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, pushadd_to_gateway

# `_created` series are a per-process timestamp: meaningless once summed across invocations.
disable_created_metrics()

# Function environment variables reach the extension too: GRAVEL_LISTEN moves both.
PUSH_ADDRESS = os.environ.get("GRAVEL_LISTEN", "localhost:9091")
VERSION = os.environ.get("APP_VERSION", "1.4.2")


def handler(event, context):
    started = time.perf_counter()
    registry = CollectorRegistry()
    orders = Counter("orders", "Orders taken.", ["kind"], registry=registry)
    cart = Gauge("cart_items", "Items in the last cart.", registry=registry)
    latency = Histogram("handler_seconds", "Handler latency.", buckets=(0.005, 0.01, 0.05, 0.1), registry=registry)
    version = Gauge("app_version", "Deployed version (one series, replaced on deploy).", ["version", "clearmode"],
                    registry=registry)

    items = int(event.get("items", random.randint(1, 5)))
    orders.labels(kind=event.get("kind", "web")).inc()
    cart.set(items)
    version.labels(version=VERSION, clearmode="family").set(1)
    time.sleep(0.002 * items)  # the work
    latency.observe(time.perf_counter() - started)

    pushadd_to_gateway(PUSH_ADDRESS, job="checkout", registry=registry)
    return {"statusCode": 200, "body": f"{items} items"}
