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
	rows, err := db.query(ctx, "SELECT project_id, count(*), COALESCE(SUM(volume_size), 0) FROM snapshots"+
		" WHERE deleted = FALSE AND volume_id IN (SELECT id FROM volumes WHERE "+cond+") GROUP BY project_id", args...)
	if err != nil {
		return nil, wrap(err, "snapshots on %s", host)
	}
	defer rows.Close()
	for rows.Next() {
		var project string
		var n, gb int
		if err := rows.Scan(&project, &n, &gb); err != nil {
			return nil, wrap(err, "snapshots on %s", host)
		}
		if u, ok := byProject[project]; ok {
			u.Snapshots, u.SnapshotGigabytes = n, gb
		}
	}
	return usages, wrap(rows.Err(), "snapshots on %s", host)
}
