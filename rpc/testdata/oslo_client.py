#!/usr/bin/python3
"""Call an RPC server with oslo.messaging, as cinder's services do.

Usage: oslo_client.py URL EXCHANGE TOPIC SERVER VERSION < calls.json
calls.json is a JSON list of [method, kwargs]. Prints a JSON list with, per
call, {"result": ...} or {"error": {class, module, exc_type, code, message}}.
"""
import json
import os
import sys

from oslo_config import cfg
import oslo_messaging as messaging


def main():
    url, exchange, topic, server, version = sys.argv[1:6]
    calls = json.load(sys.stdin)
    conf = cfg.CONF  # oslo.messaging's metrics options live only on the global CONF
    conf([], project='oslo-rpc-test')
    transport = messaging.get_rpc_transport(
        conf, url=url, allowed_remote_exmods=['cinder.exception'])
    target = messaging.Target(exchange=exchange, topic=topic, server=server,
                              version=version)
    client = messaging.get_rpc_client(transport, target, timeout=10)
    ctxt = {'user_id': 'u-python', 'project_id': 'p-python',
            'request_id': 'req-python', 'roles': ['member'], 'is_admin': False}
    out = []
    for method, kwargs in calls:
        try:
            out.append({'result': client.call(ctxt, method, **kwargs)})
        except Exception as e:
            out.append({'error': {
                'class': type(e).__name__,
                'module': type(e).__module__,
                'exc_type': getattr(e, 'exc_type', None),
                'code': getattr(e, 'code', None),
                'message': str(e).split('\n')[0],
            }})
    transport.cleanup()
    json.dump(out, sys.stdout)
    sys.stdout.flush()
    # oslo's reply poller thread holds up interpreter exit for ~10 s.
    os._exit(0)


if __name__ == '__main__':
    main()
