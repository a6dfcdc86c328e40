package cinder

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QoS consumers, as Cinder's QoSConsumerValues: who applies a QoS spec's limits.
const (
	ConsumerBackEnd  = "back-end"  // the backend
	ConsumerFrontEnd = "front-end" // the connector, from os-initialize_connection's qos_specs
	ConsumerBoth     = "both"
)

// QoSSpecs is a named set of quality-of-service specs that volume types
// refer to by their qos_specs_id.
type QoSSpecs struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Consumer  string            `json:"consumer"`
	Specs     map[string]string `json:"specs"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt *time.Time        `json:"updated_at,omitempty"`
}

// perGBLimits are the limits a spec may give per GiB of volume instead
// (<limit>_per_gb, bounded by <limit>_per_gb_min and <limit>_max), as
// Cinder's volume manager reads them.
var perGBLimits = []string{"read_iops_sec", "read_bytes_sec", "write_iops_sec", "write_bytes_sec", "total_iops_sec", "total_bytes_sec"}

// ConnectionSpecs are the qos_specs os-initialize_connection hands the
// connector of a volume of size GiB, as Cinder's volume manager: none
// unless q's consumer is front-end or both; a per-GiB limit becomes the
// limit for size, at least its _per_gb_min and at most its _max (numbers).
func (q *QoSSpecs) ConnectionSpecs(size int) (map[string]any, error) {
	if q == nil || q.Consumer != ConsumerFrontEnd && q.Consumer != ConsumerBoth {
		return nil, nil
	}
	specs := make(map[string]any, len(q.Specs))
	for k, v := range q.Specs {
		specs[k] = v
	}
	for _, limit := range perGBLimits {
		perGB, ok := q.Specs[limit+"_per_gb"]
		if !ok {
			continue
		}
		rate, err := specInt(q, limit+"_per_gb", perGB)
		if err != nil {
			return nil, err
		}
		floor, err := specInt(q, limit+"_per_gb_min", q.Specs[limit+"_per_gb_min"])
		if err != nil {
			return nil, err
		}
		value := max(floor, rate*int64(size))
		ceiling := value
		if s, ok := q.Specs[limit+"_max"]; ok {
			if ceiling, err = specInt(q, limit+"_max", s); err != nil {
				return nil, err
			}
		}
		specs[limit] = min(value, ceiling)
		delete(specs, limit+"_per_gb")
		delete(specs, limit+"_per_gb_min")
		delete(specs, limit+"_max")
	}
	return specs, nil
}

// specInt reads spec key of q as an integer; "" (absent) is 0.
func specInt(q *QoSSpecs, key, value string) (int64, error) {
	if value == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("QoS specs %s: %s %q is not an integer: %w", q.ID, key, value, err)
	}
	return n, nil
}
