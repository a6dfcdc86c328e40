package api

import (
	"maps"
	"net/http"
	"slices"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Microversions of the volume summary.
const (
	mvVolumeSummary   = 12 // GET /volumes/summary
	mvSummaryMetadata = 36 // its metadata
)

// summarizeVolumes answers GET /volumes/summary (3.12): how many volumes the
// caller's project has and their GiB (every project's with all_tenants,
// for an admin, or project_id's), and from 3.36 the distinct values of
// each metadata key. As Cinder's summary, the request's other parameters
// filter the count and GiB as they filter the volume list (a non-admin's
// that the list does not allow are dropped, remove_invalid_filter_options),
// not the metadata.
func (s *server) summarizeVolumes(r *http.Request) (reply, error) {
	if !ver(r).atLeast(mvVolumeSummary) {
		return reply{}, newFault(http.StatusNotFound, "The resource could not be found.")
	}
	if err := s.authorize(r, "volume:get_all"); err != nil {
		return reply{}, err
	}
	f, err := s.summaryFilter(r)
	if err != nil {
		return reply{}, err
	}
	sum, err := s.vol.Summary(r.Context(), f)
	if err != nil {
		return reply{}, err
	}
	o := object{{"total_count", sum.Count}, {"total_size", sum.Size}}
	if ver(r).atLeast(mvSummaryMetadata) {
		md := object{}
		for _, k := range slices.Sorted(maps.Keys(sum.Metadata)) {
			values := make([]any, len(sum.Metadata[k]))
			for i, v := range sum.Metadata[k] {
				values[i] = v
			}
			md = append(md, member{k, values})
		}
		o = append(o, member{"metadata", md})
	}
	return reply{http.StatusOK, object{{"volume-summary", o}}}, nil
}

// summaryFilter reads the volumes GET /volumes/summary sums: the project
// as the list's (listProject) and the list's filters, but for paging, with
// the list's names (name~ is display_name~); a non-admin's filters the
// volume list does not allow are dropped rather than refused. Migration
// targets count, as Cinder's get_volume_summary.
func (s *server) summaryFilter(r *http.Request) (db.VolumeFilter, error) {
	var f db.VolumeFilter
	var err error
	if f.ProjectID, err = listProject(r); err != nil {
		return f, err
	}
	filters := filtersOf(r)
	if !cinder.FromContext(r.Context()).IsAdmin {
		allowed := s.filter.of("volume")
		maps.DeleteFunc(filters, func(k, _ string) bool { return !slices.Contains(allowed, k) })
	}
	renameAttributes(filters)
	return f, matchVolumes(r, &f, filters)
}
