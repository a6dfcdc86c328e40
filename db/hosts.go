package db

import "context"

// HostUsage is what one project holds on a backend: its volumes there and
// the snapshots of those volumes.
type HostUsage struct {
	ProjectID                    string
	Volumes, VolumeGigabytes     int
	Snapshots, SnapshotGigabytes int
}

// HostUsages returns, by project in project order, the volumes (not deleted)
// on host (host@backend: any of its pools) and the snapshots of them, as
// Cinder's volume_data_get_for_project and snapshot_data_get_for_project
// with a host. A project listed has at least one volume there.
func (db *DB) HostUsages(ctx context.Context, host string) ([]*HostUsage, error) {
	cond, args := onHost(host)
	byProject := map[string]*HostUsage{}
	usages, err := queryAll(ctx, db, "volumes on "+host,
		"SELECT project_id, count(*), COALESCE(SUM(size), 0) FROM volumes WHERE deleted = FALSE AND "+cond+
			" GROUP BY project_id ORDER BY project_id", args,
		func(row scanner) (*HostUsage, error) {
			u := &HostUsage{}
			if err := row.Scan(&u.ProjectID, &u.Volumes, &u.VolumeGigabytes); err != nil {
				return nil, err
			}
			byProject[u.ProjectID] = u
			return u, nil
		})
	if err != nil {
		return nil, err
	}
	_, err = queryAll(ctx, db, "snapshots on "+host,
		"SELECT project_id, count(*), COALESCE(SUM(volume_size), 0) FROM snapshots WHERE deleted = FALSE AND"+
			" volume_id IN (SELECT id FROM volumes WHERE "+cond+") GROUP BY project_id", args,
		func(row scanner) (*HostUsage, error) {
			var u HostUsage
			if err := row.Scan(&u.ProjectID, &u.Snapshots, &u.SnapshotGigabytes); err != nil {
				return nil, err
			}
			if p, ok := byProject[u.ProjectID]; ok {
				p.Snapshots, p.SnapshotGigabytes = u.Snapshots, u.SnapshotGigabytes
			}
			return &u, nil
		})
	return usages, err
}
