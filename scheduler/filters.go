package scheduler

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// request is what one placement asks of a pool.
type request struct {
	volumeID          string
	size              int               // GiB
	availabilityZone  string            // "" for any zone
	availabilityZones []string          // any of these zones, when set (a volume type's)
	extraSpecs        map[string]string // of the volume type
	existsOn          string            // the pool the volume is on already (retype), whose capacity holds it
	resourceBackend   string            // host@backend the volume must be on (its source's), "" for any
}

// thin reports whether the volume is thin provisioned: unless its type's
// provisioning:type is thick.
func (r *request) thin() bool { return r.extraSpecs["provisioning:type"] != "thick" }

// filter passes or rejects one pool for a request.
type filter struct {
	name   string
	passes func(p *poolState, r *request) bool
}

// weigher scores one pool for a request; higher wins.
type weigher struct {
	name  string
	weigh func(p *poolState, r *request) float64
}

// filterFuncs and weigherFuncs are what scheduler_default_filters and
// scheduler_default_weighers may name.
var (
	filterFuncs = map[string]func(*poolState, *request) bool{
		"AvailabilityZoneFilter": availabilityZoneFilter,
		"CapacityFilter":         capacityFilter,
		"CapabilitiesFilter":     capabilitiesFilter,
	}
	weigherFuncs = map[string]func(*poolState, *request) float64{
		"CapacityWeigher": capacityWeight,
	}
)

// lookup returns the functions of names from funcs, in order, or an error
// naming the first unknown one.
func lookup[F any, T any](kind string, names []string, funcs map[string]F, mk func(string, F) T) ([]T, error) {
	out := make([]T, 0, len(names))
	for _, name := range names {
		f, ok := funcs[name]
		if !ok {
			known := make([]string, 0, len(funcs))
			for k := range funcs {
				known = append(known, k)
			}
			slices.Sort(known)
			return nil, fmt.Errorf("unknown scheduler %s %q (known: %s)", kind, name, strings.Join(known, ", "))
		}
		out = append(out, mk(name, f))
	}
	return out, nil
}

// availabilityZoneFilter passes the pools of the requested zones, or
// zone, as AvailabilityZoneFilter.
func availabilityZoneFilter(p *poolState, r *request) bool {
	if len(r.availabilityZones) > 0 {
		return slices.Contains(r.availabilityZones, p.availabilityZone)
	}
	return r.availabilityZone == "" || p.availabilityZone == r.availabilityZone
}

// capacityFilter passes the pools with room for the volume, as
// CapacityFilter: unbounded free capacity passes; unbounded total passes only
// without reserved space; thin pools must keep (provisioned+size)/available
// within max_over_subscription_ratio (itself at least 1); then the virtual
// free capacity must hold the size.
func capacityFilter(p *poolState, r *request) bool {
	size := float64(r.size)
	switch {
	case r.size == 0 || !p.free.bounded() || p.host == r.existsOn:
		return true
	case !p.total.bounded():
		return p.reservedPercentage == 0
	case p.total.gb <= 0:
		slog.Warn("pool reports no total capacity", "pool", p.host, "volume_id", r.volumeID)
		return false
	}
	f := p.capacityFactors(r.thin())
	if r.thin() && p.thinSupport {
		if p.maxOverSubscriptionRatio < 1 {
			slog.Warn("pool has an invalid max_over_subscription_ratio, below 1",
				"pool", p.host, "max_over_subscription_ratio", p.maxOverSubscriptionRatio)
			return false
		}
		if ratio := (p.provisioned + size) / f.totalAvailable; ratio > p.maxOverSubscriptionRatio {
			slog.Debug("pool would exceed its over-subscription ratio", "pool", p.host,
				"volume_id", r.volumeID, "provisioned_ratio", ratio, "max_over_subscription_ratio", p.maxOverSubscriptionRatio)
			return false
		}
	}
	if f.virtualFree < size {
		slog.Debug("pool has too little free space", "pool", p.host, "volume_id", r.volumeID,
			"requested_gb", r.size, "virtual_free_gb", f.virtualFree)
		return false
	}
	return true
}

// capabilitiesFilter passes the pools whose capabilities satisfy the volume
// type's extra specs, as CapabilitiesFilter: keys bare or prefixed
// "capabilities:" (further colons walk nested dicts), other scopes ignored;
// a list capability passes when any element matches.
func capabilitiesFilter(p *poolState, r *request) bool {
	for key, req := range r.extraSpecs {
		scope := strings.Split(key, ":")
		if len(scope) > 1 {
			if scope[0] != "capabilities" {
				continue
			}
			scope = scope[1:]
		}
		var node any = p.capabilities
		for _, k := range scope {
			m, ok := node.(map[string]any)
			if !ok {
				return false
			}
			if node, ok = m[k]; !ok {
				return false
			}
		}
		values, ok := node.([]any)
		if !ok {
			values = []any{node}
		}
		if !slices.ContainsFunc(values, func(v any) bool { return matchSpec(v, req) }) {
			slog.Debug("pool does not match an extra spec", "pool", p.host, "volume_id", r.volumeID,
				"spec", key, "requirement", req, "capability", node)
			return false
		}
	}
	return true
}

// capacityWeight is CapacityWeigher: the pool's virtual free capacity, -1
// for an 'infinite' or 'unknown' one.
func capacityWeight(p *poolState, r *request) float64 {
	if !p.free.bounded() || !p.total.bounded() {
		return -1
	}
	return p.capacityFactors(r.thin()).virtualFree
}

// rank returns the pools passing every filter, best first by the sum of
// their normalized weights (ties keep the given order), and when pools were
// given but none pass, the name of the filter that rejected the last ones.
func rank(pools []*poolState, filters []filter, weighers []weigher, r *request) ([]*poolState, string) {
	if len(pools) == 0 {
		return nil, ""
	}
	passed := pools
	for _, f := range filters {
		passed = slices.DeleteFunc(slices.Clone(passed), func(p *poolState) bool { return !f.passes(p, r) })
		if len(passed) == 0 {
			return nil, f.name
		}
	}
	total := make(map[*poolState]float64, len(passed))
	for _, w := range weighers {
		weights := make([]float64, len(passed))
		for i, p := range passed {
			weights[i] = w.weigh(p, r)
		}
		for i, n := range normalize(weights) {
			total[passed[i]] += n
		}
	}
	slices.SortStableFunc(passed, func(a, b *poolState) int {
		switch {
		case total[a] > total[b]:
			return -1
		case total[a] < total[b]:
			return 1
		}
		return 0
	})
	return passed, ""
}

// normalize maps weights onto [0, 1] between their minimum and maximum; all
// equal weights become 0, as cinder.scheduler.base_weight.normalize.
func normalize(weights []float64) []float64 {
	lo, hi := slices.Min(weights), slices.Max(weights)
	out := make([]float64, len(weights))
	if lo == hi {
		return out
	}
	for i, w := range weights {
		out[i] = (w - lo) / (hi - lo)
	}
	return out
}
