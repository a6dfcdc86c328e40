package api

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// serverErrorMessage is webob's explanation of a 500.
const serverErrorMessage = "The server has either erred or is incapable of performing the requested operation."

// fault is an API error answered as Cinder's fault body
// {"<kind>": {"code": N, "message": "…"}}.
type fault struct {
	code       int
	message    string
	retryAfter string // overLimit's retryAfter, when set
}

func (f *fault) Error() string { return f.message }

// newFault returns a fault of HTTP status code.
func newFault(code int, format string, args ...any) *fault {
	return &fault{code: code, message: fmt.Sprintf(format, args...)}
}

// faultKinds are Cinder's fault names by status; any other is computeFault.
var faultKinds = map[int]string{
	http.StatusBadRequest:            "badRequest",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "itemNotFound",
	http.StatusMethodNotAllowed:      "badMethod",
	http.StatusConflict:              "conflictingRequest",
	http.StatusRequestEntityTooLarge: "overLimit",
	http.StatusUnsupportedMediaType:  "badMediaType",
	http.StatusNotImplemented:        "notImplemented",
	http.StatusServiceUnavailable:    "serviceUnavailable",
}

// toFault maps any handler error to the fault to answer: Cinder exceptions
// keep their code, an RPC timeout is 502 (as Cinder's RPCTimeout), a remote
// failure or anything unexpected is a logged 500.
func toFault(r *http.Request, err error) *fault {
	var f *fault
	var ce *cinder.Error
	var timeout *rpc.TimeoutError
	var remote *rpc.RemoteError
	switch {
	case errors.As(err, &f):
		return f
	case errors.As(err, &ce):
		if ce.Code == http.StatusRequestEntityTooLarge {
			// Cinder's QuotaError is "safe": its class prefixes the message.
			return &fault{code: ce.Code, message: ce.Class + ": " + ce.Message, retryAfter: "0"}
		}
		if ce.Code < 400 || ce.Code > 599 {
			slog.Error("api: cinder error with no HTTP code", "request_id", requestID(r), "class", ce.Class, "err", err)
			return &fault{code: http.StatusInternalServerError, message: ce.Message}
		}
		if ce.Code >= 500 {
			slog.Error("api: request failed", "request_id", requestID(r), "class", ce.Class, "err", err)
		}
		return &fault{code: ce.Code, message: ce.Message}
	case errors.As(err, &timeout):
		slog.Error("api: RPC timed out", "request_id", requestID(r), "err", err)
		return newFault(http.StatusBadGateway, "Timeout while waiting on RPC response: %s.", timeout.Error())
	case errors.As(err, &remote):
		slog.Error("api: remote failure", "request_id", requestID(r), "err", err)
		return newFault(http.StatusInternalServerError, "%s: %s", remote.Class, remote.Message)
	default:
		slog.Error("api: request failed", "request_id", requestID(r), "err", err)
		return newFault(http.StatusInternalServerError, serverErrorMessage)
	}
}

// rpcSendTimeout bounds how long a request waits for the message bus to
// take its cast or call before answering 503. A healthy RabbitMQ confirms in
// milliseconds; 3 s rides out a dropped connection that comes back at once
// (the first reconnects are 0.5 s and 2 s after the loss) yet answers a
// client long before any HTTP timeout while the broker is down.
const rpcSendTimeout = 3 * time.Second

// reply is a handler's answer: status and a body to encode as JSON (none
// when nil).
type reply struct {
	status int
	body   any
}

// headed is a reply body with headers of its own, such as an ETag.
type headed struct {
	header http.Header
	body   any
}

// handler serves one API route.
type handler func(r *http.Request) (reply, error)

// serve runs h, whose RPCs give up sending after rpcSendTimeout, and writes
// its reply or its error as a fault.
func serve(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := h(r.WithContext(rpc.WithSendTimeout(r.Context(), rpcSendTimeout)))
		if err != nil {
			writeFault(w, r, toFault(r, err))
			return
		}
		if h, ok := rep.body.(headed); ok {
			maps.Copy(w.Header(), h.header)
			rep.body = h.body
		}
		writeJSON(w, r, rep.status, rep.body)
	})
}

// writeFault writes f as Cinder's fault body.
func writeFault(w http.ResponseWriter, r *http.Request, f *fault) {
	kind, ok := faultKinds[f.code]
	if !ok {
		kind = "computeFault"
	}
	detail := object{{"code", f.code}, {"message", f.message}}
	if f.retryAfter != "" {
		detail = append(detail, member{"retryAfter", f.retryAfter})
	}
	writeJSON(w, r, f.code, object{{kind, detail}})
}

// writeJSON writes a controller response: request id and microversion
// headers, Content-Type application/json, and body unless nil.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, body any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if id := requestID(r); id != "" {
		h.Set("X-Compute-Request-Id", id)
	}
	if v, ok := versionOf(r); ok {
		h.Set("OpenStack-API-Version", "volume "+v.String())
		h.Set("Vary", "OpenStack-API-Version")
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	buf := encodeBuffers.Get().(*[]byte)
	defer encodeBuffers.Put(buf)
	b, err := appendJSON((*buf)[:0], body)
	if err != nil {
		slog.Error("api: encode response", "request_id", requestID(r), "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"computeFault": {"code": 500, "message": "`+serverErrorMessage+`"}}`)
	} else {
		*buf = b
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// encodeBuffers keeps response buffers between requests: a list of volumes
// is over 100 KiB, grown anew on each request otherwise.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}
