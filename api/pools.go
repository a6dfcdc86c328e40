package api

import (
	"net/http"
)

// getPools answers GET /scheduler-stats/get_pools[?detail=true] (admin):
// the scheduler's pools, with their capabilities when detailed (a list
// storage_protocol shows its first element).
func (s *server) getPools(r *http.Request) (reply, error) {
	if err := s.authorize(r, "scheduler_extension:scheduler_stats:get_pools"); err != nil {
		return reply{}, err
	}
	detail, err := boolParam(r, "detail", false)
	if err != nil {
		return reply{}, err
	}
	pools, err := s.vol.Pools(r.Context())
	if err != nil {
		return reply{}, err
	}
	items := make([]object, 0, len(pools))
	for _, p := range pools {
		o := object{{"name", p.Name}}
		if detail {
			caps := p.Capabilities
			if protocols, ok := caps["storage_protocol"].([]any); ok && len(protocols) > 0 {
				caps = make(map[string]any, len(p.Capabilities))
				for k, v := range p.Capabilities {
					caps[k] = v
				}
				caps["storage_protocol"] = protocols[0]
			}
			o = append(o, member{"capabilities", caps})
		}
		items = append(items, o)
	}
	return reply{http.StatusOK, object{{"pools", items}}}, nil
}
