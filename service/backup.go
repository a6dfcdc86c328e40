package service

import (
	"context"
	"log/slog"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/backup"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/rpc"
)

// RunBackup runs cinder-backup with the posix driver until ctx ends: it
// recovers what a previous run left, registers as cinder-backup on host,
// serves RPC and heartbeats.
func RunBackup(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error {
	m := backup.New(cfg, store, manager.NewClient(t))
	if err := m.Init(ctx); err != nil {
		return err
	}
	svc, err := Register(ctx, store, m.Host(), cinder.BinaryBackup, cinder.TopicBackup, cfg.StorageAvailabilityZone)
	if err != nil {
		return err
	}
	if err := serve(ctx, t, m.Targets(), m.Endpoint()); err != nil {
		return err
	}
	slog.Info("cinder-backup started", "host", m.Host(), "backup_posix_path", cfg.BackupPosixPath)
	Heartbeat(ctx, store, svc, cfg.ReportInterval)
	return nil
}
