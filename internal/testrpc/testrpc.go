// Package testrpc gives tests an RPC transport that closes with the test.
package testrpc

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/rpc"
)

// Dial connects to url, or to a fake:// transport of the test's own when
// url is "", with calls timing out after timeout; the transport closes
// when t ends.
func Dial(t testing.TB, url string, timeout time.Duration) *rpc.Transport {
	t.Helper()
	if url == "" {
		url = "fake://" + uuid.NewString()
	}
	tr, err := rpc.Dial(context.Background(), url, rpc.Options{ResponseTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	})
	return tr
}
