package scheduler

import (
	"maps"
	"math"
	"strings"
	"time"

	"github.com/cinder-go/cinder"
)

// defaultMaxOverSubscriptionRatio is max_over_subscription_ratio's default,
// used when a thin pool reports none (and as the first 'auto' value).
const defaultMaxOverSubscriptionRatio = 20.0

// capacity is a reported capacity in GiB, or one of Cinder's words
// 'infinite' and 'unknown' for a backend that cannot tell.
type capacity struct {
	gb   float64
	word string // "infinite" or "unknown"; "" when gb holds the value
}

// bounded reports whether the capacity is a number.
func (c capacity) bounded() bool { return c.word == "" }

// parseCapacity reads a capacity from a stats value: a number, a numeric
// string, 'infinite' or 'unknown'. Missing or unreadable values are 0, so
// the capacity filter fails such a pool safe.
func parseCapacity(v any) capacity {
	if s, ok := v.(string); ok && (s == "infinite" || s == "unknown") {
		return capacity{word: s}
	}
	f, _ := toFloat(v)
	return capacity{gb: f}
}

// poolState is what the scheduler knows of one pool: its latest report and
// the capacity virtually consumed since, as cinder's PoolState.
type poolState struct {
	host             string         // host@backend#pool
	name             string         // the pool name
	availabilityZone string         // the backend's service's zone
	capabilities     map[string]any // the pool's report with backend keys filled in

	total, free              capacity
	allocated, provisioned   float64
	reservedPercentage       float64
	maxOverSubscriptionRatio float64
	thinSupport              bool
	thickSupport             bool
	reported                 time.Time     // when the report applied was taken
	consumed                 []consumption // volumes placed since
}

// consumption is a volume of size GiB placed on a pool at time at.
type consumption struct {
	size int
	at   time.Time
}

// update applies a pool report taken at ts. The capabilities are always
// replaced; the capacity unless an older report than the one applied, and
// the volumes placed after ts stay consumed until a newer report accounts
// for them (update_from_volume_capability). Unlike Cinder, which keeps its
// capacity when anything was placed after ts, a report reaching the
// scheduler behind a placement still applies: otherwise, under steady
// load, no report ever did and consumed capacity only grew.
func (p *poolState) update(caps map[string]any, ts time.Time, az string) {
	p.capabilities = caps
	p.availabilityZone = az
	if ts.Before(p.reported) {
		return
	}
	p.reported = ts
	p.total = parseCapacity(caps["total_capacity_gb"])
	p.free = parseCapacity(caps["free_capacity_gb"])
	p.allocated, _ = toFloat(caps["allocated_capacity_gb"])
	p.provisioned = p.allocated
	if v, ok := caps["provisioned_capacity_gb"]; ok {
		p.provisioned, _ = toFloat(v)
	}
	p.reservedPercentage, _ = toFloat(caps["reserved_percentage"])
	p.thinSupport, _ = caps["thin_provisioning_support"].(bool)
	p.thickSupport, _ = caps["thick_provisioning_support"].(bool)
	p.maxOverSubscriptionRatio = p.overSubscriptionRatio(caps["max_over_subscription_ratio"])
	placed := p.consumed[:0]
	for _, c := range p.consumed {
		if c.at.After(ts) {
			placed = append(placed, c)
			p.take(c.size)
		}
	}
	p.consumed = placed
}

// overSubscriptionRatio is utils.calculate_max_over_subscription_ratio: 1
// for a thick or unbounded pool, 'auto' derived from use, else the number.
func (p *poolState) overSubscriptionRatio(v any) float64 {
	if !p.thinSupport || !p.total.bounded() || !p.free.bounded() {
		return 1
	}
	if s, ok := v.(string); ok && s == "auto" {
		if p.provisioned == 0 {
			return defaultMaxOverSubscriptionRatio
		}
		return 1 + p.provisioned/(p.total.gb-p.free.gb+1)
	}
	r, ok := toFloat(v)
	if !ok || r == 0 { // Python's `reported or CONF.max_over_subscription_ratio`
		return defaultMaxOverSubscriptionRatio
	}
	return r
}

// consume counts a new volume of size GiB placed at now against the pool
// until a report taken after now, as consume_from_volume.
func (p *poolState) consume(size int, now time.Time) {
	p.consumed = append(p.consumed, consumption{size, now})
	p.take(size)
}

// take counts size GiB more as allocated and provisioned, and less as free.
func (p *poolState) take(size int) {
	p.allocated += float64(size)
	p.provisioned += float64(size)
	if p.free.bounded() {
		p.free.gb -= float64(size)
	}
}

// factors are the parts of sched_utils.calculate_capacity_factors the
// filter and weigher use.
type factors struct {
	totalAvailable float64 // capacity Cinder may allocate: unreserved (×ratio when thin)
	virtualFree    float64 // what is left of it
}

// capacityFactors computes a bounded pool's factors for a thin or thick
// volume. reserved = floor(total×pct/100); thin: available = (total −
// reserved) × ratio, free = available − provisioned; thick: available =
// total − reserved, free = min(reported free, available − provisioned).
func (p *poolState) capacityFactors(thin bool) factors {
	total := p.total.gb
	reserved := math.Floor(total * p.reservedPercentage / 100)
	unreserved := total - reserved
	if thin && p.thinSupport {
		available := unreserved * p.maxOverSubscriptionRatio
		return factors{totalAvailable: round2(available), virtualFree: round2(available - p.provisioned)}
	}
	return factors{totalAvailable: round2(unreserved), virtualFree: round2(min(p.free.gb, unreserved-p.provisioned))}
}

// round2 rounds to two decimals, as calculate_capacity_factors reports.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// backendState holds the pools of one backend (host@backend).
type backendState struct {
	pools map[string]*poolState // by pool name
}

// update applies a backend's report taken at ts: its pools (or, for a
// driver reporting none, one pool named after volume_backend_name) with the
// backend-level keys filled in, as BackendState.update_pools. Pools no
// longer reported are forgotten.
func (b *backendState) update(host string, report map[string]any, ts time.Time, az string) {
	var pools []map[string]any
	switch list := report["pools"].(type) {
	case []any:
		for _, item := range list {
			if pool, ok := item.(map[string]any); ok {
				pools = append(pools, pool)
			}
		}
	case nil:
		name, _ := report["volume_backend_name"].(string)
		if name == "" {
			name = cinder.DefaultPoolName
		}
		legacy := maps.Clone(report)
		legacy["pool_name"] = name
		pools = append(pools, legacy)
	}

	active := make(map[string]bool, len(pools))
	for _, raw := range pools {
		caps := withBackendInfo(maps.Clone(raw), report, ts)
		name, _ := caps["pool_name"].(string)
		if name == "" {
			continue
		}
		p := b.pools[name]
		if p == nil {
			p = &poolState{host: cinder.AppendHost(host, name), name: name}
			b.pools[name] = p
		}
		p.update(caps, ts, az)
		active[name] = true
	}
	for name := range b.pools {
		if !active[name] {
			delete(b.pools, name)
		}
	}
}

// withBackendInfo fills a pool's capabilities with the backend keys it does
// not set itself, as BackendState._append_backend_info.
func withBackendInfo(pool, backend map[string]any, ts time.Time) map[string]any {
	for _, k := range []string{"volume_backend_name", "vendor_name", "driver_version"} {
		if empty(pool[k]) {
			pool[k] = backend[k]
		}
	}
	if empty(pool["storage_protocol"]) {
		pool["storage_protocol"] = protocolVariants(backend["storage_protocol"])
	} else {
		pool["storage_protocol"] = protocolVariants(pool["storage_protocol"])
	}
	if empty(pool["timestamp"]) {
		pool["timestamp"] = ts.UTC().Format(cinder.TimeLayout)
	}
	for _, k := range []string{"filter_function", "goodness_function"} {
		if _, ok := pool[k]; !ok {
			if v, ok := backend[k]; ok {
				pool[k] = v
			}
		}
	}
	return pool
}

// protocolVariants replaces a storage protocol that has spellings with all of
// them, as get_storage_protocol_variants, so an extra spec may name any.
func protocolVariants(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	for _, variants := range [][]any{
		{"iSCSI", "iscsi"},
		{"FC", "fibre_channel"},
		{"NFS", "nfs"},
		{"NVMe-oF", "NVMeOF", "nvmeof"},
	} {
		for _, name := range variants {
			if name == s {
				return variants
			}
		}
	}
	return s
}

// empty is Python's falsiness for the values a report carries.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// parseTimestamp reads a capability timestamp: oslo's PERFECT_TIME_FORMAT
// (UTC, fraction optional) or RFC 3339.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
