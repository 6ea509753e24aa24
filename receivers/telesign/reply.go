package telesign

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// Reply answers Telesign. Only 200 counts as success to Telesign, so a
// stored callback is always 200 application/json:
//
//   - status callbacks: {"status":"ok","events":N}
//   - Voice API events: {} — the body of a reply to a voice event is the
//     call's next action (JSON-RPC); an object without "method" asks for
//     nothing, so Switchboard never dials, speaks or hangs up a call.
//
// Errors are {"error":"..."} with the status of the *receivers.Error (400,
// 401, 413, 415, 503, …) or 500 for any other error.
func (rc *Receiver) Reply(w http.ResponseWriter, r *http.Request, events []*event.Event, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if err != nil {
		code, msg := receivers.Status(err)
		switch code {
		case http.StatusUnauthorized:
			h.Set("WWW-Authenticate", "TSA")
		case http.StatusUnsupportedMediaType:
			h.Set("Accept-Post", "application/json")
		}
		b, _ := json.Marshal(struct {
			Error string `json:"error"`
		}{msg})
		w.WriteHeader(code)
		w.Write(append(b, '\n'))
		return
	}
	w.WriteHeader(http.StatusOK)
	if hasVoice(events) {
		w.Write([]byte("{}\n"))
		return
	}
	w.Write([]byte(`{"status":"ok","events":` + strconv.Itoa(len(events)) + "}\n"))
}

func hasVoice(events []*event.Event) bool {
	for _, ev := range events {
		if ev != nil && ev.Type == TypeVoiceEvent {
			return true
		}
	}
	return false
}
