package cinder

import "strings"

// DefaultPoolName is the pool Cinder assumes when a host string names none.
const DefaultPoolName = "_pool0"

// Host levels for ExtractHost, as cinder.volume.volume_utils.extract_host.
const (
	LevelHost    = "host"
	LevelBackend = "backend"
	LevelPool    = "pool"
)

// ExtractHost returns one level of a host@backend#pool string: "host" gives
// host, "backend" gives host@backend, "pool" gives the pool name (or "" when
// absent).
func ExtractHost(host, level string) string {
	switch level {
	case LevelHost:
		h, _, _ := strings.Cut(host, "#")
		h, _, _ = strings.Cut(h, "@")
		return h
	case LevelPool:
		_, pool, _ := strings.Cut(host, "#")
		return pool
	default:
		h, _, _ := strings.Cut(host, "#")
		return h
	}
}

// AppendHost joins a backend and a pool into host@backend#pool.
func AppendHost(backend, pool string) string {
	if pool == "" {
		return backend
	}
	return backend + "#" + pool
}

// SameBackend reports whether two host strings name the same host@backend,
// pools ignored.
func SameBackend(a, b string) bool {
	return ExtractHost(a, LevelBackend) == ExtractHost(b, LevelBackend)
}
