package db

import (
	"context"
	"maps"
	"slices"
	"strings"
)

// holds is the condition that one of the JSON map columns holds the pair
// k: v, and its arguments: the pair as encodeMap writes it, after the
// map's { or a comma. Quotes inside keys and values are escaped, so no
// pair can be forged inside another's key or value.
func holds(d *dialect, k, v string, columns ...string) (string, []any) {
	pair := strings.TrimSuffix(strings.TrimPrefix(encodeMap(map[string]string{k: v}), "{"), "}")
	var either []string
	var args []any
	for _, col := range columns {
		either = append(either, d.position+"("+col+", ?) > 0", d.position+"("+col+", ?) > 0")
		args = append(args, "{"+pair, ","+pair)
	}
	return "(" + strings.Join(either, " OR ") + ")", args
}

// VolumeSummary is what GET /volumes/summary tells of volumes: how many,
// their GiB, and the distinct values of each key of their metadata.
type VolumeSummary struct {
	Count, Size int
	Metadata    map[string][]string // values sorted
}

// SummarizeVolumes sums up project's volumes (every project's when ""),
// not deleted, as Cinder's get_volume_summary: migration targets count too.
func (db *DB) SummarizeVolumes(ctx context.Context, project string) (VolumeSummary, error) {
	f := VolumeFilter{ProjectID: project}
	where, args := f.where(db.dialect)
	s := VolumeSummary{Metadata: map[string][]string{}}
	err := db.sql.QueryRowContext(ctx, db.dialect.rebind("SELECT count(*), COALESCE(SUM(size), 0) FROM volumes"+where), args...).
		Scan(&s.Count, &s.Size)
	if err != nil {
		return s, wrap(err, "summarize the volumes of project %q", project)
	}
	rows, err := db.query(ctx, "SELECT metadata FROM volumes"+where+" AND metadata <> '{}'", args...)
	if err != nil {
		return s, wrap(err, "summarize the metadata of project %q", project)
	}
	defer rows.Close()
	values := map[string]map[string]bool{}
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return s, wrap(err, "summarize the metadata of project %q", project)
		}
		md, err := decodeMap(text)
		if err != nil {
			return s, wrap(err, "summarize the metadata of project %q", project)
		}
		for k, v := range md {
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
		}
	}
	for k, vs := range values {
		s.Metadata[k] = slices.Sorted(maps.Keys(vs))
	}
	return s, wrap(rows.Err(), "summarize the metadata of project %q", project)
}
