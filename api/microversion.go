package api

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// version is a requested API microversion, major.minor.
type version struct{ major, minor int }

func (v version) String() string { return strconv.Itoa(v.major) + "." + strconv.Itoa(v.minor) }

// atLeast reports whether v is 3.minor or later.
func (v version) atLeast(minor int) bool {
	return v.major > 3 || v.major == 3 && v.minor >= minor
}

// The supported range, as cinder/api/openstack/api_version_request.py.
var (
	minVersion = version{3, 0}
	maxVersion = version{3, 71}
)

// Microversions that change what this API does (cinder/api/microversions.py).
const (
	mvMessages              = 3
	mvClusterSupport        = 7
	mvGroupVolume           = 13
	mvMigrateCluster        = 16
	mvProviderID            = 21
	mvDeleteForce           = 23
	mvWorkersCleanup        = 24
	mvReplicationCluster    = 26
	mvRevert                = 40
	mvExtendInUse           = 42
	mvCount                 = 45
	mvSharedTargets         = 48
	mvBackendState          = 49
	mvSchemaChanges         = 53
	mvTransferSnapshots     = 55
	mvTransferHistory       = 57
	mvTransferPaging        = 59
	mvClusterName           = 61
	mvTypeIDInDetail        = 63
	mvUseQuota              = 65
	mvSharedTargetsTristate = 69
	mvTransferEncrypted     = 70
	mvExtendCompletion      = 71
)

// versionPattern is APIVersionRequest's accepted form.
var versionPattern = regexp.MustCompile(`^([1-9]\d*)\.([1-9]\d*|0)$`)

type versionKey struct{}

// versionOf returns the microversion negotiated for r, if any.
func versionOf(r *http.Request) (version, bool) {
	v, ok := r.Context().Value(versionKey{}).(version)
	return v, ok
}

// ver returns the microversion of r, which negotiateVersion has checked.
func ver(r *http.Request) version {
	v, _ := versionOf(r)
	return v
}

// negotiateVersion reads "OpenStack-API-Version: volume X.Y" (3.0 when
// absent, "latest" for the maximum): a malformed version is 400, one out of range
// 406, as Cinder. Responses echo the version.
func negotiateVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, f := requestedVersion(r.Header.Values("OpenStack-API-Version"))
		if f != nil && f.code == http.StatusBadRequest {
			writeFault(w, r, f)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), versionKey{}, v))
		if f != nil {
			writeFault(w, r, f)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestedVersion parses the OpenStack-API-Version header values. The
// fault is 400 for an unreadable version and 406 for one out of range (the
// version is then returned too, to echo).
func requestedVersion(headers []string) (version, *fault) {
	if len(headers) == 0 {
		return minVersion, nil
	}
	var requested string
	found := false
	for _, part := range strings.Split(strings.Join(headers, ","), ",") {
		fields := strings.Fields(part)
		if len(fields) == 0 || fields[0] != "volume" {
			continue
		}
		if len(fields) != 2 {
			return version{}, invalidVersion(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "volume")))
		}
		requested, found = fields[1], true
		break
	}
	if !found {
		return version{}, newFault(http.StatusBadRequest, "OpenStack-API-Version header %q names no volume version.", strings.Join(headers, ","))
	}
	if requested == "latest" {
		return maxVersion, nil
	}
	m := versionPattern.FindStringSubmatch(requested)
	if m == nil {
		return version{}, invalidVersion(requested)
	}
	v := version{atoiOrMax(m[1]), atoiOrMax(m[2])}
	if v.major != maxVersion.major || v.minor > maxVersion.minor {
		return v, newFault(http.StatusNotAcceptable, "Version %s is not supported by the API. Minimum is %s and maximum is %s.",
			v, minVersion, maxVersion)
	}
	return v, nil
}

func invalidVersion(s string) *fault {
	return newFault(http.StatusBadRequest, "API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", s)
}

// atoiOrMax parses digits, saturating at MaxInt (such a version is out of range anyway).
func atoiOrMax(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return math.MaxInt
	}
	return n
}
