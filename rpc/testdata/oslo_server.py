#!/usr/bin/python3
"""Serve a cinder-volume-like endpoint with oslo.messaging.

Usage: oslo_server.py URL EXCHANGE TOPIC SERVER
Prints READY once consuming, and serves until stdin is closed.
"""
import sys

from oslo_config import cfg
import oslo_messaging as messaging


class VolumeEndpoint(object):
    target = messaging.Target(version='3.20')

    def get_capabilities(self, ctxt, discover=False):
        return {'volume_backend_name': 'thin', 'vendor_name': 'Open Source',
                'discover': discover, 'ctxt_user': ctxt.get('user_id'),
                'ctxt_roles': ctxt.get('roles')}

    def fail(self, ctxt, message):
        raise ValueError(message)


def main():
    url, exchange, topic, server = sys.argv[1:5]
    conf = cfg.CONF
    conf([], project='oslo-rpc-test')
    transport = messaging.get_rpc_transport(conf, url=url)
    target = messaging.Target(exchange=exchange, topic=topic, server=server)
    srv = messaging.get_rpc_server(transport, target, [VolumeEndpoint()],
                                   executor='threading')
    srv.start()
    print('READY', flush=True)
    sys.stdin.read()
    srv.stop()
    srv.wait()
    transport.cleanup()


if __name__ == '__main__':
    main()
