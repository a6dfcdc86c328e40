package api

import (
	"maps"
	"net/http"
	"slices"
)

// Microversions of the volume summary.
const (
	mvVolumeSummary   = 12 // GET /volumes/summary
	mvSummaryMetadata = 36 // its metadata
)

// summarizeVolumes answers GET /volumes/summary (3.12): how many volumes the
// caller's project has and their GiB (every project's with all_tenants,
// for an admin), and from 3.36 the distinct values of each metadata key.
// Other parameters are ignored, as Cinder.
func (s *server) summarizeVolumes(r *http.Request) (reply, error) {
	if !ver(r).atLeast(mvVolumeSummary) {
		return reply{}, newFault(http.StatusNotFound, "The resource could not be found.")
	}
	if err := s.authorize(r, "volume:get_all"); err != nil {
		return reply{}, err
	}
	all, err := boolParam(r, "all_tenants", false)
	if err != nil {
		return reply{}, err
	}
	sum, err := s.vol.Summary(r.Context(), all)
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
