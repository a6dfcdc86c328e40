// Package conf reads cinder.conf, oslo.config's INI dialect, with Cinder's
// option names and defaults.
package conf

import (
	"cmp"
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is the [DEFAULT] and [database] options plus each enabled backend.
type Config struct {
	Host                         string // DEFAULT host (default: the machine's hostname)
	StatePath                    string // state_path (default /var/lib/cinder)
	TransportURL                 string // transport_url (default fake://)
	ControlExchange              string // control_exchange (default openstack)
	RPCResponseTimeout           time.Duration
	APIListen                    string // osapi_volume_listen (default 0.0.0.0)
	APIPort                      int    // osapi_volume_listen_port (default 8776)
	AuthStrategy                 string // auth_strategy: noauth, noauth_roles or keystone (default noauth)
	EnabledBackends              []string
	DefaultVolumeType            string        // default_volume_type (default __DEFAULT__)
	StorageAvailabilityZone      string        // storage_availability_zone (default nova)
	ReportInterval               time.Duration // report_interval (default 10s)
	ServiceDownTime              time.Duration // service_down_time (default 60s)
	BackendStatsPollingInterval  time.Duration // backend_stats_polling_interval (default 60s)
	SchedulerDefaultFilters      []string      // default AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter
	SchedulerDefaultWeighers     []string      // default CapacityWeigher
	MigrationCreateVolumeTimeout time.Duration // migration_create_volume_timeout_secs (default 300s)
	PeriodicInterval             time.Duration // periodic_interval: between runs of periodic tasks (default 60s)
	SchedulerDriverInitWaitTime  time.Duration // scheduler_driver_init_wait_time: how long a starting scheduler waits for stats (default 60s)
	SchedulerCreateVolumeTimeout time.Duration // scheduler_create_volume_timeout: when a volume no scheduler placed fails (default 300s)
	QuotaVolumes                 int           // quota_volumes: volumes a project may have, -1 for no limit (default 10)
	QuotaSnapshots               int           // quota_snapshots: snapshots a project may have, -1 for no limit (default 10)
	QuotaGigabytes               int           // quota_gigabytes: GiB a project's volumes and snapshots may hold, -1 for no limit (default 1000)
	QuotaBackups                 int           // quota_backups: backups a project may have, -1 for no limit (default 10)
	QuotaBackupGigabytes         int           // quota_backup_gigabytes: GiB a project's backups may hold, -1 for no limit (default 1000)
	QuotaGroups                  int           // quota_groups: groups a project may have, -1 for no limit (default 10)
	PerVolumeSizeLimit           int           // per_volume_size_limit: GiB one volume may have, -1 for no limit (default -1)
	UseDefaultQuotaClass         bool          // use_default_quota_class: the default class's limits win over the quota_* options (default true)
	ReservationExpire            time.Duration // reservation_expire: how long a quota reservation holds (default 86400s)
	ReservationCleanInterval     time.Duration // reservation_clean_interval: between the scheduler's drops of expired reservations (default reservation_expire)
	BackupDriver                 string        // backup_driver: posix, or Cinder's class name of it (the default)
	BackupPosixPath              string        // backup_posix_path (default $state_path/backup), made absolute
	BackupFileSize               int64         // backup_file_size: volume bytes per object, a multiple of the sha block size (default 1999994880)
	BackupSHABlockSize           int           // backup_sha_block_size_bytes (default 32768)
	BackupCompression            string        // backup_compression_algorithm: none, zlib, bz2 or zstd, or their aliases (default zlib)
	BackupUseSameHost            bool          // backup_use_same_host: back up on the volume's host only, which must run cinder-backup (default false)
	DatabaseConnection           string        // [database] connection (default sqlite:///$state_path/cinder.sqlite)
	DatabaseMaxPoolSize          int           // [database] max_pool_size: connections kept open (default 5)
	DatabaseMaxOverflow          int           // [database] max_overflow: connections opened past the pool under load (default 50)
	Backends                     []*Backend    // the sections named by enabled_backends, in that order
	Keystone                     Keystone      // [keystone_authtoken], for auth_strategy keystone
	PolicyFile                   string        // [oslo_policy] policy_file: rules over Cinder's defaults ("" for none)
	IdentityFile                 string        // [identity] data_file: serve an embedded Keystone at /identity ("" for none)
	ResourceQueryFiltersFile     string        // resource_query_filters_file: the list filters non-admins may use ("" for Cinder's own)
}

// Auth strategies: noauth trusts a "user:project" token and makes every
// caller admin, as Cinder's; noauth_roles is noauth with X-Roles honoured
// (admin only with the admin role), for personas without Keystone;
// keystone validates tokens at Keystone, as keystonemiddleware.
const (
	AuthNoAuth      = "noauth"
	AuthNoAuthRoles = "noauth_roles"
	AuthKeystone    = "keystone"
)

// Keystone is [keystone_authtoken]: where and as whom cinder-api
// validates tokens, with keystonemiddleware's option names.
type Keystone struct {
	// WWWAuthenticateURI is www_authenticate_uri: the public Identity
	// endpoint named in 401 answers. Empty means AuthURL.
	WWWAuthenticateURI string
	// AuthURL is auth_url: Keystone's endpoint, with or without "/v3".
	AuthURL string
	// Username is username: the service user cinder-api logs in as.
	Username string
	// Password is password: the service user's password.
	Password string
	// ProjectName is project_name: the project the service token is scoped to.
	ProjectName string
	// UserDomainName is user_domain_name: the service user's domain (Default).
	UserDomainName string
	// ProjectDomainName is project_domain_name: ProjectName's domain (Default).
	ProjectDomainName string
	// ServiceTokenRoles is service_token_roles: any of these roles on a
	// valid X-Service-Token lets the user's token be used past its expiry
	// (default service).
	ServiceTokenRoles []string
	// TokenCacheTime is token_cache_time: how long a valid token's answer
	// is reused without asking Keystone (default 300 s); -1 never caches.
	// Cinder's 0 (cache forever) is taken as the default.
	TokenCacheTime time.Duration
	// Timeout is http_request_timeout, an option of ours: a deadline on
	// each call to Keystone (default 10 s), never a hang.
	Timeout time.Duration
}

// Backend is one enabled backend's section. Each option is read from the
// section, else from [DEFAULT], else takes its default.
type Backend struct {
	Name                     string  // the section name, the backend part of host@backend
	VolumeDriver             string  // volume_driver: "thin" or "thick" (default thin)
	VolumeBackendName        string  // volume_backend_name (default: the section name)
	BackendHost              string  // backend_host (default: DEFAULT host)
	VolumesDir               string  // volumes_dir (default $state_path/volumes/<section>), made absolute
	ReservedPercentage       int     // reserved_percentage (default 0)
	MaxOverSubscriptionRatio float64 // max_over_subscription_ratio (default 20.0; "auto" reads as 20.0)
	VolumeClear              string  // volume_clear: none or zero (default zero)
	VolumeClearSize          int     // volume_clear_size in MiB, 0 = whole volume
	VolumeDDBlocksize        int64   // volume_dd_blocksize in bytes (default 1M)
	VolumeCopyBPSLimit       int64   // volume_copy_bps_limit (default 0 = unlimited)
	TotalCapacityGB          float64 // total_capacity_gb: capacity to report; 0 = the filesystem's size
	AvailabilityZone         string  // backend_availability_zone (default storage_availability_zone)
}

// Backend returns the enabled backend whose section is name, or nil.
func (c *Config) Backend(name string) *Backend {
	for _, b := range c.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Server is the host b's cinder-volume runs as: backend_host, else host.
func (c *Config) Server(b *Backend) string { return cmp.Or(b.BackendHost, c.Host) }

// ServiceHost is b's service host, "<backend_host or host>@<backend>", as
// cinder/cmd/volume.py names it.
func (c *Config) ServiceHost(b *Backend) string { return c.Server(b) + "@" + b.Name }

// Sections as viper names them: section names are lower-cased.
const (
	defaultSection  = "default"
	databaseSection = "database"
)

// defaultOptions returns the [DEFAULT] options with their defaults, before
// substitution; host defaults to the machine's hostname.
func defaultOptions(hostname string) map[string]string {
	return map[string]string{
		"host":                                 strings.ReplaceAll(hostname, "$", "$$"),
		"state_path":                           "/var/lib/cinder",
		"transport_url":                        "fake://",
		"control_exchange":                     "openstack",
		"rpc_response_timeout":                 "60",
		"osapi_volume_listen":                  "0.0.0.0",
		"osapi_volume_listen_port":             "8776",
		"auth_strategy":                        "noauth",
		"enabled_backends":                     "",
		"default_volume_type":                  "__DEFAULT__",
		"storage_availability_zone":            "nova",
		"report_interval":                      "10",
		"service_down_time":                    "60",
		"backend_stats_polling_interval":       "60",
		"scheduler_default_filters":            "AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter",
		"scheduler_default_weighers":           "CapacityWeigher",
		"migration_create_volume_timeout_secs": "300",
		"periodic_interval":                    "60",
		"scheduler_driver_init_wait_time":      "60",
		"scheduler_create_volume_timeout":      "300",
		"quota_volumes":                        "10",
		"quota_snapshots":                      "10",
		"quota_gigabytes":                      "1000",
		"quota_backups":                        "10",
		"quota_backup_gigabytes":               "1000",
		"quota_groups":                         "10",
		"per_volume_size_limit":                "-1",
		"use_default_quota_class":              "true",
		"reservation_expire":                   "86400",
		"reservation_clean_interval":           "$reservation_expire",
		"backup_driver":                        "cinder.backup.drivers.posix.PosixBackupDriver",
		"backup_posix_path":                    "$state_path/backup",
		"backup_file_size":                     "1999994880",
		"backup_sha_block_size_bytes":          "32768",
		"backup_compression_algorithm":         "zlib",
		"backup_use_same_host":                 "false",
		"resource_query_filters_file":          "",
	}
}

// databaseOptions are the [database] options with their defaults.
var databaseOptions = map[string]string{
	"connection":    "sqlite:///$state_path/cinder.sqlite",
	"max_pool_size": "5",
	"max_overflow":  "50",
}

// Sections beside [DEFAULT] and [database], and their options' defaults.
const (
	keystoneSection = "keystone_authtoken"
	policySection   = "oslo_policy"
	identitySection = "identity"
)

var keystoneOptions = map[string]string{
	"www_authenticate_uri": "",
	"auth_url":             "",
	"username":             "",
	"password":             "",
	"project_name":         "",
	"user_domain_name":     "Default",
	"project_domain_name":  "Default",
	"service_token_roles":  "service",
	"token_cache_time":     "300",
	"http_request_timeout": "10",
}

var policyOptions = map[string]string{"policy_file": ""}

var identityOptions = map[string]string{"data_file": ""}

// backendOptions returns a backend section's options with their defaults.
func backendOptions(section string) map[string]string {
	literal := strings.ReplaceAll(section, "$", "$$")
	return map[string]string{
		"volume_driver":               "thin",
		"volume_backend_name":         literal,
		"backend_host":                "$host",
		"volumes_dir":                 "$state_path/volumes/" + literal,
		"reserved_percentage":         "0",
		"max_over_subscription_ratio": "20.0",
		"volume_clear":                "zero",
		"volume_clear_size":           "0",
		"volume_dd_blocksize":         "1M",
		"volume_copy_bps_limit":       "0",
		"total_capacity_gb":           "0",
		"backend_availability_zone":   "$storage_availability_zone",
	}
}

// Load reads the files in order, later files overriding earlier ones as
// oslo.config's repeated --config-file, with CINDER_<SECTION>_<OPTION>
// environment variables over them; it applies defaults and $var
// substitution, and checks values.
func Load(files ...string) (*Config, error) { return loadWith(parseINI, files) }

// loadWith is Load with the INI parser given, so that a test can count parses.
func loadWith(parse parser, files []string) (*Config, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("conf: default host: %w", err)
	}
	r := newResolver(parse)
	r.setDefaults(defaultSection, defaultOptions(host))
	r.setDefaults(databaseSection, databaseOptions)
	r.setDefaults(keystoneSection, keystoneOptions)
	r.setDefaults(policySection, policyOptions)
	r.setDefaults(identitySection, identityOptions)
	for _, f := range files {
		if err := r.read(f); err != nil {
			return nil, err
		}
	}

	p := &reader{r: r}
	c := &Config{
		Host:                         p.str(defaultSection, "host"),
		StatePath:                    p.str(defaultSection, "state_path"),
		TransportURL:                 p.str(defaultSection, "transport_url"),
		ControlExchange:              p.str(defaultSection, "control_exchange"),
		RPCResponseTimeout:           p.seconds(defaultSection, "rpc_response_timeout", 1),
		APIListen:                    p.str(defaultSection, "osapi_volume_listen"),
		APIPort:                      p.int(defaultSection, "osapi_volume_listen_port", 0, 65535),
		AuthStrategy:                 p.choice(defaultSection, "auth_strategy", AuthNoAuth, AuthNoAuthRoles, AuthKeystone),
		EnabledBackends:              p.list(defaultSection, "enabled_backends"),
		DefaultVolumeType:            p.str(defaultSection, "default_volume_type"),
		StorageAvailabilityZone:      p.str(defaultSection, "storage_availability_zone"),
		ReportInterval:               p.seconds(defaultSection, "report_interval", 1),
		ServiceDownTime:              p.seconds(defaultSection, "service_down_time", 1),
		BackendStatsPollingInterval:  p.seconds(defaultSection, "backend_stats_polling_interval", 3),
		SchedulerDefaultFilters:      p.list(defaultSection, "scheduler_default_filters"),
		SchedulerDefaultWeighers:     p.list(defaultSection, "scheduler_default_weighers"),
		MigrationCreateVolumeTimeout: p.seconds(defaultSection, "migration_create_volume_timeout_secs", 1),
		PeriodicInterval:             p.seconds(defaultSection, "periodic_interval", 1),
		SchedulerDriverInitWaitTime:  p.seconds(defaultSection, "scheduler_driver_init_wait_time", 1),
		SchedulerCreateVolumeTimeout: p.seconds(defaultSection, "scheduler_create_volume_timeout", 1),
		QuotaVolumes:                 p.int(defaultSection, "quota_volumes", -1, 1<<31-1),
		QuotaSnapshots:               p.int(defaultSection, "quota_snapshots", -1, 1<<31-1),
		QuotaGigabytes:               p.int(defaultSection, "quota_gigabytes", -1, 1<<31-1),
		QuotaBackups:                 p.int(defaultSection, "quota_backups", -1, 1<<31-1),
		QuotaBackupGigabytes:         p.int(defaultSection, "quota_backup_gigabytes", -1, 1<<31-1),
		QuotaGroups:                  p.int(defaultSection, "quota_groups", -1, 1<<31-1),
		PerVolumeSizeLimit:           p.int(defaultSection, "per_volume_size_limit", -1, 1<<31-1),
		UseDefaultQuotaClass:         p.boolean(defaultSection, "use_default_quota_class"),
		ReservationExpire:            p.seconds(defaultSection, "reservation_expire", 1),
		ReservationCleanInterval:     p.seconds(defaultSection, "reservation_clean_interval", 1),
		BackupDriver:                 p.choice(defaultSection, "backup_driver", "posix", "cinder.backup.drivers.posix.PosixBackupDriver"),
		BackupPosixPath:              p.path(defaultSection, "backup_posix_path"),
		BackupFileSize:               p.int64(defaultSection, "backup_file_size"),
		BackupSHABlockSize:           p.int(defaultSection, "backup_sha_block_size_bytes", 512, 1<<30),
		BackupCompression: p.choice(defaultSection, "backup_compression_algorithm",
			"none", "off", "no", "zlib", "gzip", "bz2", "bzip2", "zstd"),
		BackupUseSameHost:   p.boolean(defaultSection, "backup_use_same_host"),
		DatabaseConnection:  p.str(databaseSection, "connection"),
		DatabaseMaxPoolSize: p.int(databaseSection, "max_pool_size", 1, 1<<16),
		DatabaseMaxOverflow: p.int(databaseSection, "max_overflow", 0, 1<<16),
		Keystone: Keystone{
			WWWAuthenticateURI: p.str(keystoneSection, "www_authenticate_uri"),
			AuthURL:            p.str(keystoneSection, "auth_url"),
			Username:           p.str(keystoneSection, "username"),
			Password:           p.str(keystoneSection, "password"),
			ProjectName:        p.str(keystoneSection, "project_name"),
			UserDomainName:     p.str(keystoneSection, "user_domain_name"),
			ProjectDomainName:  p.str(keystoneSection, "project_domain_name"),
			ServiceTokenRoles:  p.list(keystoneSection, "service_token_roles"),
			TokenCacheTime:     time.Duration(p.int(keystoneSection, "token_cache_time", -1, 1<<31-1)) * time.Second,
			Timeout:            p.seconds(keystoneSection, "http_request_timeout", 1),
		},
		PolicyFile:               p.optionalPath(policySection, "policy_file"),
		IdentityFile:             p.optionalPath(identitySection, "data_file"),
		ResourceQueryFiltersFile: p.optionalPath(defaultSection, "resource_query_filters_file"),
	}
	if p.err == nil && (c.BackupFileSize == 0 || c.BackupFileSize%int64(c.BackupSHABlockSize) != 0) {
		p.fail(defaultSection, "backup_file_size", "%d is not a positive multiple of backup_sha_block_size_bytes %d", c.BackupFileSize, c.BackupSHABlockSize)
	}
	if p.err == nil && c.AuthStrategy == AuthKeystone && c.Keystone.AuthURL == "" {
		p.fail(keystoneSection, "auth_url", "auth_strategy keystone needs the Keystone to validate tokens at")
	}
	if p.err != nil {
		return nil, p.err
	}
	for _, name := range c.EnabledBackends {
		b, err := loadBackend(r, name, files)
		if err != nil {
			return nil, err
		}
		c.Backends = append(c.Backends, b)
	}
	return c, nil
}

// loadBackend checks the enabled backend name, registers its section's
// options and reads them.
func loadBackend(r *resolver, name string, files []string) (*Backend, error) {
	section := strings.ToLower(name)
	switch {
	case strings.ContainsAny(name, "@#:/"):
		return nil, fmt.Errorf("conf: enabled_backends: backend name %q must not contain '@', '#', ':' or '/'", name)
	case r.backends[section]:
		return nil, fmt.Errorf("conf: enabled_backends: backend %q is listed twice", name)
	case section == defaultSection || section == databaseSection:
		return nil, fmt.Errorf("conf: enabled_backends: [%s] is not a backend section", name)
	case !r.hasSection(section):
		return nil, fmt.Errorf("conf: enabled backend %q has no [%s] section in %s", name, name, strings.Join(files, ", "))
	}
	r.addBackend(section, backendOptions(name))

	p := &reader{r: r}
	b := &Backend{
		Name:                     name,
		VolumeDriver:             p.choice(section, "volume_driver", "thin", "thick"),
		VolumeBackendName:        p.str(section, "volume_backend_name"),
		BackendHost:              p.str(section, "backend_host"),
		VolumesDir:               p.path(section, "volumes_dir"),
		ReservedPercentage:       p.int(section, "reserved_percentage", 0, 100),
		MaxOverSubscriptionRatio: p.ratio(section, "max_over_subscription_ratio"),
		VolumeClear:              p.choice(section, "volume_clear", "none", "zero"),
		VolumeClearSize:          p.int(section, "volume_clear_size", 0, 1024),
		VolumeDDBlocksize:        p.blocksize(section, "volume_dd_blocksize"),
		VolumeCopyBPSLimit:       p.int64(section, "volume_copy_bps_limit"),
		TotalCapacityGB:          p.float(section, "total_capacity_gb", 0),
		AvailabilityZone:         p.str(section, "backend_availability_zone"),
	}
	return b, p.err
}
