"""Drive Cinder's own PosixBackupDriver on a backup directory.

    cinder_posix.py check
    cinder_posix.py backup  CONFIG.json   -> prints {"prefix": ..., "container": ...}
    cinder_posix.py restore CONFIG.json

CONFIG names the options (path, file_size, sha_block_size, compression),
the volume file ("volume": read by backup, written by restore), and the
backups: "backup" is the one to make or restore, "chain" its ancestors,
each {"id", "volume_id", "container", "prefix", "parent_id"}.

Only the database is mocked, never the byte path: backup() and restore()
of ChunkedBackupDriver run as in cinder-backup, reading and writing the
object files, metadata and sha256file themselves. Mocked are the DB engine
(BackupDriver's base class connects to one), db.volume_get (the volume's
size), objects.Backup.get_by_id (the parent chain, normally DB rows), the
Backup objects' save/refresh (DB writes and reads) and the usage
notifications (RPC).
"""

import contextlib
import json
import sys
from unittest import mock

from oslo_config import cfg

import cinder.db
from cinder.backup import chunkeddriver
from cinder.backup.drivers import posix


class FakeBackup(dict):
    """A Backup row: the attributes and keys the chunked driver reads."""

    def __init__(self, row, status):
        super().__init__(
            id=row['id'], volume_id=row['volume_id'],
            container=row.get('container'), service_metadata=row.get('prefix'),
            parent_id=row.get('parent_id'), display_name=row.get('name'),
            display_description=row.get('description'),
            created_at=row.get('created_at', '2025-03-04 05:06:07+00:00'),
            size=row.get('size', 1), status=status, object_count=0)

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def save(self):
        pass

    def refresh(self):
        pass

    @contextlib.contextmanager
    def as_read_deleted(self):
        yield


def driver(conf, rows):
    cfg.CONF([], project='cinder', default_config_files=[])
    cfg.CONF.set_override('backup_enable_progress_timer', False)
    cfg.CONF.set_override('backup_file_size', conf['file_size'])
    cfg.CONF.set_override('backup_sha_block_size_bytes', conf['sha_block_size'])
    cfg.CONF.set_override('backup_compression_algorithm', conf['compression'])
    with mock.patch.object(cinder.db, 'dispose_engine'):
        d = posix.PosixBackupDriver(None, backup_path=conf['path'])
    d.db = mock.Mock()
    d.db.volume_get.return_value = {'size': 1}
    by_id = {r['id']: FakeBackup(r, 'available') for r in rows}
    objects = mock.Mock()
    objects.Backup.get_by_id.side_effect = lambda ctx, id: by_id[id]
    return d, objects


def main():
    cmd = sys.argv[1]
    if cmd == 'check':
        return
    with open(sys.argv[2]) as f:
        conf = json.load(f)
    d, objects = driver(conf, conf.get('chain') or [])
    patches = [mock.patch.object(chunkeddriver, 'objects', objects),
               mock.patch.object(chunkeddriver.volume_utils,
                                 'notify_about_backup_usage')]
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        if cmd == 'backup':
            b = FakeBackup(conf['backup'], 'creating')
            with open(conf['volume'], 'rb') as vol:
                d.backup(b, vol, backup_metadata=False)
            print(json.dumps({'prefix': b.service_metadata,
                              'container': b.container}))
        elif cmd == 'restore':
            b = FakeBackup(conf['backup'], 'restoring')
            with open(conf['volume'], 'r+b') as vol:
                d.restore(b, b.volume_id, vol)
        else:
            sys.exit('unknown command %s' % cmd)


if __name__ == '__main__':
    main()
