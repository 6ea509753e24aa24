// Package receivers defines the seam between the HTTP server and the vendor
// callback parsers: a Receiver verifies a callback, turns it into events and
// writes the reply the vendor expects. Each vendor lives in its own
// sub-package (receivers/interfax, receivers/telesign).
package receivers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Receiver handles the callbacks of one configured receiver.
//
// The server calls PreVerify if the receiver has it, reads the body
// (enforcing the size limit), calls Verify, then Parse, stores the events
// durably and only then calls Reply with a nil error. On any failure it
// calls Reply with the error; errors that are not an *Error are answered as
// 500.
type Receiver interface {
	// Verify authenticates the request. body is the raw request body. It
	// returns an *Error with status 401 or 403 when the caller is refused.
	Verify(r *http.Request, body []byte) error

	// Parse turns the callback into one or more events. It must not depend
	// on Verify having run (switchboard test can skip verification). now is
	// the time of acceptance. Each event must have Source, Type, Subject,
	// Status, Code, Description, Time, Data and DedupKey set, and Kind to
	// one of the kinds its package declares (its Kinds, which the wiring
	// also collects for events read back from the store; without one the
	// event gets generic wording and counts as "other"). The core seals the
	// rest. Malformed input yields an *Error with status 400 or 415.
	Parse(r *http.Request, body []byte, now time.Time) ([]*event.Event, error)

	// Reply writes the response to the vendor: success when err is nil,
	// otherwise the error in the vendor's expected form.
	Reply(w http.ResponseWriter, r *http.Request, events []*event.Event, err error)
}

// PreVerifier is implemented by receivers that can refuse a callback from
// its request line and headers alone (client address, a token in the URL,
// the shape of a signature header). The server calls PreVerify before it
// reads the body, so a caller without credentials costs no body buffering;
// Verify still runs, and decides, once the body is read. PreVerify returns
// an *Error with status 401 or 403 when the caller is refused.
type PreVerifier interface {
	PreVerify(r *http.Request) error
}

// GetHandler is implemented by receivers that answer GET requests on their
// hook URL (InterFAX serves its WSDL on GET ?wsdl).
type GetHandler interface {
	ServeGet(w http.ResponseWriter, r *http.Request)
}

// Error is a callback failure with the HTTP status to answer it with. Msg is
// safe to show the caller: it never contains secrets.
type Error struct {
	Status int
	Msg    string
	Err    error // optional cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status and message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Status returns the HTTP status an error should be answered with and the
// message that is safe to show the caller.
func Status(err error) (int, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Status, e.Msg
	}
	return http.StatusInternalServerError, "internal error"
}

// WritePlainError answers err as text/plain, the default error form.
func WritePlainError(w http.ResponseWriter, err error) {
	code, msg := Status(err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
