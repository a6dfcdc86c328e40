// Package conf reads cinder.conf, oslo.config's INI dialect, with Cinder's
// option names and defaults.
package conf

import "time"

// Config is the [DEFAULT] and [database] options plus each enabled backend.
type Config struct {
	Host                         string // DEFAULT host (default: the machine's hostname)
	StatePath                    string // state_path (default /var/lib/cinder)
	TransportURL                 string // transport_url (default fake://)
	ControlExchange              string // control_exchange (default openstack)
	RPCResponseTimeout           time.Duration
	APIListen                    string // osapi_volume_listen (default 0.0.0.0)
	APIPort                      int    // osapi_volume_listen_port (default 8776)
	AuthStrategy                 string // auth_strategy (default noauth)
	EnabledBackends              []string
	DefaultVolumeType            string        // default_volume_type (default __DEFAULT__)
	StorageAvailabilityZone      string        // storage_availability_zone (default nova)
	ReportInterval               time.Duration // report_interval (default 10s)
	ServiceDownTime              time.Duration // service_down_time (default 60s)
	BackendStatsPollingInterval  time.Duration // backend_stats_polling_interval (default 60s)
	SchedulerDefaultFilters      []string      // default AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter
	SchedulerDefaultWeighers     []string      // default CapacityWeigher
	MigrationCreateVolumeTimeout time.Duration // migration_create_volume_timeout_secs (default 300s)
	DatabaseConnection           string        // [database] connection (default sqlite:///$state_path/cinder.sqlite)
	Backends                     []*Backend    // the sections named by enabled_backends, in that order
}

// Backend is one enabled backend's section.
type Backend struct {
	Name                     string  // the section name, the backend part of host@backend
	VolumeDriver             string  // volume_driver: "thin" or "thick"
	VolumeBackendName        string  // volume_backend_name (default: the section name)
	BackendHost              string  // backend_host (default: DEFAULT host)
	VolumesDir               string  // volumes_dir (default $state_path/volumes/<section>)
	ReservedPercentage       int     // reserved_percentage (default 0)
	MaxOverSubscriptionRatio float64 // max_over_subscription_ratio (default 20.0)
	VolumeClear              string  // volume_clear: none or zero (default zero)
	VolumeClearSize          int     // volume_clear_size in MiB, 0 = whole volume
	VolumeDDBlocksize        string  // volume_dd_blocksize (default 1M)
	VolumeCopyBPSLimit       int64   // volume_copy_bps_limit (default 0 = unlimited)
	TotalCapacityGB          float64 // total_capacity_gb: capacity to report; 0 = the filesystem's size
	AvailabilityZone         string  // backend_availability_zone (default storage_availability_zone)
}

// Load reads the files in order, later files overriding earlier ones as
// oslo.config does, applies defaults and $var substitution, and checks values.
func Load(files ...string) (*Config, error) { panic("conf: TODO") }
